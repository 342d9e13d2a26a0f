package ctap

// NewRequest returns a zero request message for cmd, or nil for a command
// that takes no parameters (getInfo, reset, getNextAssertion, selection) or
// is unknown. Fuzzers and the authenticator's dispatcher use it to decode a
// payload into the right type.
func NewRequest(cmd Command) any {
	switch cmd {
	case CmdMakeCredential:
		return new(MakeCredentialRequest)
	case CmdGetAssertion:
		return new(GetAssertionRequest)
	case CmdClientPIN:
		return new(ClientPINRequest)
	case CmdBioEnrollment, CmdBioEnrollmentPre:
		return new(BioEnrollmentRequest)
	case CmdCredentialManagement, CmdCredentialManagementPre:
		return new(CredentialManagementRequest)
	case CmdLargeBlobs:
		return new(LargeBlobsRequest)
	case CmdConfig:
		return new(ConfigRequest)
	}
	return nil
}

// NewResponse returns a zero response message for cmd, or nil for a command
// whose response has no body (reset, selection) or is unknown.
func NewResponse(cmd Command) any {
	switch cmd {
	case CmdMakeCredential:
		return new(MakeCredentialResponse)
	case CmdGetAssertion, CmdGetNextAssertion:
		return new(GetAssertionResponse)
	case CmdGetInfo:
		return new(InfoResponse)
	case CmdClientPIN:
		return new(ClientPINResponse)
	case CmdBioEnrollment, CmdBioEnrollmentPre:
		return new(BioEnrollmentResponse)
	case CmdCredentialManagement, CmdCredentialManagementPre:
		return new(CredentialManagementResponse)
	case CmdLargeBlobs:
		return new(LargeBlobsResponse)
	}
	return nil
}
