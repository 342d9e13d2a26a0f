package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/virtkey/virtkey/ctap"
)

// IsCredentialManagementSupported reports whether the authenticator
// implements authenticatorCredentialManagement: its getInfo options list
// credMgmt true (CTAP 2.1 §6.4), or credentialMgmtPreview true, the
// 2.1-PRE prototype (§6.13). This is python-fido2's
// CredentialManagement.is_supported.
func IsCredentialManagementSupported(info *Info) bool {
	v, _ := info.Option(ctap.OptionCredMgmt)
	p, _ := info.Option(ctap.OptionCredentialMgmtPreview)
	return v || p
}

// IsCredentialManagementUpdateSupported reports whether the authenticator
// implements updateUserInformation (CTAP 2.1 §6.8.6), which the 2.1-PRE
// prototype lacks: its getInfo options list credMgmt true. This is
// python-fido2's CredentialManagement.is_update_supported.
func IsCredentialManagementUpdateSupported(info *Info) bool {
	v, _ := info.Option(ctap.OptionCredMgmt)
	return v
}

// IsCredentialManagementReadOnlySupported reports whether the authenticator
// accepts a persistent pinUvAuthToken with the pcmr permission
// (ctap.PermissionPersistentCredMgmtRO, 0x40) for the read-only
// subcommands of authenticatorCredentialManagement: its getInfo options
// list perCredMgmtRO true (CTAP 2.2 §6.4). This is python-fido2's
// CredentialManagement.is_readonly_supported.
func IsCredentialManagementReadOnlySupported(info *Info) bool {
	v, _ := info.Option(ctap.OptionPerCredMgmtRO)
	return v
}

// CredentialManagement runs the platform's side of
// authenticatorCredentialManagement (CTAP 2.1 §6.8) with a
// pinUvAuthToken that has the cm permission, like python-fido2's
// CredentialManagement. On a key with IsCredentialManagementReadOnlySupported
// the token may instead be a persistent pinUvAuthToken with the pcmr
// permission (CTAP 2.2 §6.5.5.7), which serves getCredsMetadata and the
// enumerations only; the requests are authenticated the same way. (The
// 2.2 text could not be read here: the permission's reach is as Yubico's
// .NET SDK documents PinUvAuthTokenPermissions.PersistentCredentialManagementReadOnly
// and as python-fido2's test_read_only_management uses it.) It sends command 0x0A when getInfo lists the
// credMgmt option and the 2.1-PRE command 0x41 when it lists only
// credentialMgmtPreview, as python-fido2 does.
//
// Responses are the decoded ctap.CredentialManagementResponse, checked
// for the members each subcommand must return.
type CredentialManagement struct {
	c        *Ctap2
	protocol *PinProtocol
	token    []byte
	cmd      ctap.Command
}

// NewCredentialManagement returns a CredentialManagement for c that
// authenticates its requests with token under protocol. Without
// IsCredentialManagementSupported the error wraps ErrNotSupported.
func NewCredentialManagement(c *Ctap2, protocol *PinProtocol, token []byte) (*CredentialManagement, error) {
	info := c.Info()
	cmd := ctap.CmdCredentialManagementPre
	switch {
	case IsCredentialManagementUpdateSupported(info):
		cmd = ctap.CmdCredentialManagement
	case !IsCredentialManagementSupported(info):
		return nil, fmt.Errorf("%w: credential management (no credMgmt or credentialMgmtPreview option)", ErrNotSupported)
	}
	return &CredentialManagement{c: c, protocol: protocol, token: token, cmd: cmd}, nil
}

// Command returns the command code cm sends: ctap.CmdCredentialManagement
// or ctap.CmdCredentialManagementPre.
func (cm *CredentialManagement) Command() ctap.Command { return cm.cmd }

// Ctap returns the Ctap2 cm sends through (python-fido2's
// CredentialManagement.ctap).
func (cm *CredentialManagement) Ctap() *Ctap2 { return cm.c }

// Protocol returns the PIN/UV auth protocol cm authenticates with, and
// Token a copy of its pinUvAuthToken: together python-fido2's
// CredentialManagement.pin_uv.
func (cm *CredentialManagement) Protocol() *PinProtocol { return cm.protocol }

// Token returns a copy of the pinUvAuthToken cm authenticates with.
func (cm *CredentialManagement) Token() []byte { return bytes.Clone(cm.token) }

// Request returns a request for subCommand with params (nil for none)
// encoded as subCommandParams. With auth it carries pinUvAuthProtocol and
// pinUvAuthParam = authenticate(pinUvAuthToken, subCommand ||
// subCommandParams) over the encoded bytes (CTAP 2.1 §6.8.2 to §6.8.6);
// the GetNext subcommands are sent without.
func (cm *CredentialManagement) Request(subCommand uint64, params *ctap.CredentialManagementParams, auth bool) (*ctap.CredentialManagementRequest, error) {
	req := &ctap.CredentialManagementRequest{SubCommand: &subCommand}
	if params != nil {
		b, err := ctap.Marshal(params)
		if err != nil {
			return nil, err
		}
		req.SubCommandParams = b
	}
	if auth {
		msg := append([]byte{byte(subCommand)}, req.SubCommandParams...)
		v := cm.protocol.Version()
		req.PinUvAuthProtocol = &v
		req.PinUvAuthParam = cm.protocol.Authenticate(cm.token, msg)
	}
	return req, nil
}

// Send sends req and decodes the response, which may be empty (a zero
// response). It checks nothing of req. A non-OK status is an error
// wrapping the ctap.Status.
func (cm *CredentialManagement) Send(ctx context.Context, req *ctap.CredentialManagementRequest, opts ...CallOption) (*ctap.CredentialManagementResponse, error) {
	var resp ctap.CredentialManagementResponse
	if err := cm.c.SendCBOR(ctx, cm.cmd, req, &resp, opts...); err != nil {
		return nil, err
	}
	return &resp, nil
}

func (cm *CredentialManagement) call(ctx context.Context, subCommand uint64, params *ctap.CredentialManagementParams, auth bool) (*ctap.CredentialManagementResponse, error) {
	req, err := cm.Request(subCommand, params, auth)
	if err != nil {
		return nil, err
	}
	return cm.Send(ctx, req)
}

// need fails with ErrBadResponse unless every named member is present.
func need(sub string, members ...any) error {
	for i := 0; i < len(members); i += 2 {
		absent := false
		switch v := members[i+1].(type) {
		case *uint64:
			absent = v == nil
		case []byte:
			absent = v == nil
		case *ctap.RPEntity:
			absent = v == nil
		case *ctap.UserEntity:
			absent = v == nil
		case *ctap.CredentialDescriptor:
			absent = v == nil
		case *ctap.COSEKey:
			absent = v == nil
		}
		if absent {
			return fmt.Errorf("%w: %s response without %s", ErrBadResponse, sub, members[i])
		}
	}
	return nil
}

// GetMetadata sends getCredsMetadata (CTAP 2.1 §6.8.2): the response has
// existingResidentCredentialsCount and
// maxPossibleRemainingResidentCredentialsCount.
func (cm *CredentialManagement) GetMetadata(ctx context.Context) (*ctap.CredentialManagementResponse, error) {
	r, err := cm.call(ctx, ctap.CredMgmtGetCredsMetadata, nil, true)
	if err != nil {
		return nil, err
	}
	if err := need("getCredsMetadata", "existingResidentCredentialsCount", r.ExistingResidentCredentialsCount,
		"maxPossibleRemainingResidentCredentialsCount", r.MaxPossibleRemainingResidentCredentialsCount); err != nil {
		return nil, err
	}
	return r, nil
}

// EnumerateRPsBegin sends enumerateRPsBegin (CTAP 2.1 §6.8.3): the first
// RP, its rpIDHash and totalRPs. A key without discoverable credentials
// answers ctap.StatusNoCredentials.
func (cm *CredentialManagement) EnumerateRPsBegin(ctx context.Context) (*ctap.CredentialManagementResponse, error) {
	r, err := cm.call(ctx, ctap.CredMgmtEnumerateRPsBegin, nil, true)
	if err != nil {
		return nil, err
	}
	if err := need("enumerateRPsBegin", "rp", r.RP, "rpIDHash", r.RPIDHash, "totalRPs", r.TotalRPs); err != nil {
		return nil, err
	}
	return r, nil
}

// EnumerateRPsNext sends enumerateRPsGetNextRP (CTAP 2.1 §6.8.3), which
// carries no pinUvAuthParam: the next RP and its rpIDHash.
func (cm *CredentialManagement) EnumerateRPsNext(ctx context.Context) (*ctap.CredentialManagementResponse, error) {
	r, err := cm.call(ctx, ctap.CredMgmtEnumerateRPsGetNextRP, nil, false)
	if err != nil {
		return nil, err
	}
	if err := need("enumerateRPsGetNextRP", "rp", r.RP, "rpIDHash", r.RPIDHash); err != nil {
		return nil, err
	}
	return r, nil
}

// EnumerateRPs returns every RP: EnumerateRPsBegin, then totalRPs-1
// EnumerateRPsNext. A key without discoverable credentials gives an empty
// list.
func (cm *CredentialManagement) EnumerateRPs(ctx context.Context) ([]*ctap.CredentialManagementResponse, error) {
	first, err := cm.EnumerateRPsBegin(ctx)
	if errors.Is(err, ctap.StatusNoCredentials) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := cm.c.checkTotal("enumerateRPsBegin", "totalRPs", *first.TotalRPs); err != nil {
		return nil, err
	}
	rps := []*ctap.CredentialManagementResponse{first}
	for range *first.TotalRPs - min(*first.TotalRPs, 1) {
		r, err := cm.EnumerateRPsNext(ctx)
		if err != nil {
			return nil, err
		}
		rps = append(rps, r)
	}
	return rps, nil
}

// EnumerateCredsBegin sends enumerateCredentialsBegin for the RP whose
// SHA-256 is rpIDHash (CTAP 2.1 §6.8.4): the first credential (user,
// credentialID, publicKey) and totalCredentials. An RP without
// discoverable credentials answers ctap.StatusNoCredentials.
func (cm *CredentialManagement) EnumerateCredsBegin(ctx context.Context, rpIDHash []byte) (*ctap.CredentialManagementResponse, error) {
	r, err := cm.call(ctx, ctap.CredMgmtEnumerateCredentialsBegin, &ctap.CredentialManagementParams{RPIDHash: rpIDHash}, true)
	if err != nil {
		return nil, err
	}
	if err := needCredential("enumerateCredentialsBegin", r); err != nil {
		return nil, err
	}
	if err := need("enumerateCredentialsBegin", "totalCredentials", r.TotalCredentials); err != nil {
		return nil, err
	}
	return r, nil
}

func needCredential(sub string, r *ctap.CredentialManagementResponse) error {
	return need(sub, "user", r.User, "credentialID", r.CredentialID, "publicKey", r.PublicKey)
}

// EnumerateCredsNext sends enumerateCredentialsGetNextCredential (CTAP
// 2.1 §6.8.4), which carries no pinUvAuthParam: the next credential.
func (cm *CredentialManagement) EnumerateCredsNext(ctx context.Context) (*ctap.CredentialManagementResponse, error) {
	r, err := cm.call(ctx, ctap.CredMgmtEnumerateCredentialsGetNextCredential, nil, false)
	if err != nil {
		return nil, err
	}
	if err := needCredential("enumerateCredentialsGetNextCredential", r); err != nil {
		return nil, err
	}
	return r, nil
}

// EnumerateCreds returns every discoverable credential of the RP whose
// SHA-256 is rpIDHash: EnumerateCredsBegin, then totalCredentials-1
// EnumerateCredsNext. An RP without credentials gives an empty list, as
// in python-fido2.
func (cm *CredentialManagement) EnumerateCreds(ctx context.Context, rpIDHash []byte) ([]*ctap.CredentialManagementResponse, error) {
	first, err := cm.EnumerateCredsBegin(ctx, rpIDHash)
	if errors.Is(err, ctap.StatusNoCredentials) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := cm.c.checkTotal("enumerateCredentialsBegin", "totalCredentials", *first.TotalCredentials); err != nil {
		return nil, err
	}
	creds := []*ctap.CredentialManagementResponse{first}
	for range *first.TotalCredentials - min(*first.TotalCredentials, 1) {
		r, err := cm.EnumerateCredsNext(ctx)
		if err != nil {
			return nil, err
		}
		creds = append(creds, r)
	}
	return creds, nil
}

// DeleteCred sends deleteCredential (CTAP 2.1 §6.8.5) for the credential
// credID, as enumerated. An unknown credential answers
// ctap.StatusNoCredentials.
func (cm *CredentialManagement) DeleteCred(ctx context.Context, credID ctap.CredentialDescriptor) error {
	_, err := cm.call(ctx, ctap.CredMgmtDeleteCredential, &ctap.CredentialManagementParams{CredentialID: &credID}, true)
	return err
}

// UpdateUserInfo sends updateUserInformation (CTAP 2.1 §6.8.6): the
// credential credID gets user's name and displayName (an empty one
// removes it). user.ID must be the credential's user ID, else the key
// answers ctap.StatusInvalidParameter.
func (cm *CredentialManagement) UpdateUserInfo(ctx context.Context, credID ctap.CredentialDescriptor, user ctap.UserEntity) error {
	_, err := cm.call(ctx, ctap.CredMgmtUpdateUserInformation, &ctap.CredentialManagementParams{CredentialID: &credID, User: &user}, true)
	return err
}
