package authenticator

import (
	"fmt"
	"slices"
	"strings"
)

// Fault names a deliberate defect of the key (Config.Faults): one bug a
// real authenticator has shipped or plausibly could, switched on by name
// so that a tester or a relying party can be checked against a key that
// is wrong in exactly one way. A key with no faults behaves exactly as
// one built before faults existed; each fault changes behaviour only at
// the one place that tests a.faulty(it).
type Fault string

// FaultInfo describes one fault of the catalogue.
type FaultInfo struct {
	Name Fault
	// Family groups faults by the command or layer they break.
	Family string
	// Description is one line: what the faulty key does.
	Description string
	// Section is the spec section the fault breaks.
	Section string
	// Report is the public report the fault comes from, when there is one.
	Report string
}

// The faults. Each constant's line in faultCatalogue says what it does,
// which section it breaks and, where there is one, where a real key was
// seen doing it.
const (
	// Relying-party-facing.
	FaultCounterZero         Fault = "counter-zero"
	FaultCounterRepeat       Fault = "counter-repeat"
	FaultCounterNotPersisted Fault = "counter-not-persisted"
	FaultNoUVFlag            Fault = "no-uv-flag"
	FaultUPFlagAlways        Fault = "up-flag-always"
	FaultWrongCredentialID   Fault = "wrong-credential-id"
	FaultBadAttestationSig   Fault = "bad-attestation-sig"
	FaultBSWithoutBE         Fault = "bs-without-be"

	// clientPIN.
	FaultPINRetriesNotDecremented Fault = "pin-retries-not-decremented"
	FaultPINMismatchLimitIgnored  Fault = "pin-mismatch-limit-ignored"
	FaultTokenSurvivesChangePIN   Fault = "token-survives-changepin"
	FaultTokenPermissionsIgnored  Fault = "token-permissions-ignored"
	FaultTokenRPIDIgnored         Fault = "token-rpid-ignored"
	FaultTokenAnyProtocol         Fault = "token-any-protocol"

	// makeCredential and getAssertion.
	FaultExcludeListIgnored  Fault = "exclude-list-ignored"
	FaultRKIgnored           Fault = "rk-ignored"
	FaultUserPIIWithoutUV    Fault = "user-pii-without-uv"
	FaultCredentialsOldFirst Fault = "credentials-oldest-first"
	FaultAllowListIgnored    Fault = "allow-list-ignored"

	// credentialManagement, largeBlobs, authenticatorConfig.
	FaultCredManDeleteNoop      Fault = "credman-delete-noop"
	FaultCredManMetadataCount   Fault = "credman-metadata-count"
	FaultLargeBlobHashUnchecked Fault = "largeblob-hash-unchecked"
	FaultAlwaysUVToggleNoop     Fault = "alwaysuv-toggle-noop"

	// Extensions.
	FaultCredProtectIgnored Fault = "credprotect-ignored"
	FaultHMACSecretSameUV   Fault = "hmac-secret-same-uv"

	// authenticatorReset.
	FaultResetWindowIgnored Fault = "reset-window-ignored"
	FaultResetKeepsPIN      Fault = "reset-keeps-pin"

	// U2F.
	FaultU2FCheckOnlySigns Fault = "u2f-check-only-signs"

	// Crashes: the key's firmware (the daemon's process) dies.
	FaultPINProtocolCrash Fault = "pin-protocol-crash"

	FaultMCUpFalseAccepted          Fault = "mc-up-false-accepted"
	FaultMCDeclineIgnored           Fault = "mc-decline-ignored"
	FaultGNANoTimer                 Fault = "gna-no-timer"
	FaultGNASurvivesOtherCommand    Fault = "gna-survives-other-command"
	FaultInfoAAGUIDDiffers          Fault = "getinfo-aaguid-differs"
	FaultSetPINTwice                Fault = "setpin-twice"
	FaultPINMinLengthIgnored        Fault = "pin-min-length-ignored"
	FaultLegacyTokenAllPermissions  Fault = "legacy-token-all-permissions"
	FaultSelectionDeclineIgnored    Fault = "selection-decline-ignored"
	FaultLargeBlobOffsetUnchecked   Fault = "largeblob-offset-unchecked"
	FaultMinPINLengthShrinks        Fault = "min-pin-length-shrinks"
	FaultEnableEPNoop               Fault = "enable-ep-noop"
	FaultResetKeepsCredentials      Fault = "reset-keeps-credentials"
	FaultResetDeclineIgnored        Fault = "reset-decline-ignored"
	FaultU2FRegisterWithoutPresence Fault = "u2f-register-without-presence"

	FaultCredManUpdateUserNoop   Fault = "credman-update-user-noop"
	FaultCredBlobNotStored       Fault = "credblob-not-stored"
	FaultTokenNotConsumed        Fault = "token-not-consumed"
	FaultTokenNoExpiry           Fault = "token-no-expiry"
	FaultPINRetriesNotRestored   Fault = "pin-retries-not-restored"
	FaultChangePINNoop           Fault = "changepin-noop"
	FaultAlwaysUVNotEnforced     Fault = "alwaysuv-not-enforced"
	FaultGADeclineIgnored        Fault = "ga-decline-ignored"
	FaultMCTimeoutIgnored        Fault = "mc-timeout-ignored"
	FaultResetTimeoutIgnored     Fault = "reset-timeout-ignored"
	FaultSelectionTimeoutIgnored Fault = "selection-timeout-ignored"
	FaultInfoRemainingWrong      Fault = "getinfo-remaining-wrong"
	FaultMCNoUVFlag              Fault = "mc-no-uv-flag"
	FaultU2FDontEnforceSetsUP    Fault = "u2f-dont-enforce-sets-up"
	FaultResetKeepsLargeBlobs    Fault = "reset-keeps-largeblobs"

	FaultHMACSecretSaltAuthUnchecked Fault = "hmac-secret-saltauth-unchecked"
	FaultMCAlwaysDiscoverable        Fault = "mc-always-discoverable"

	// CTAP 2.2 (ctap22.go).
	FaultEncIdentifierFixedIV             Fault = "encidentifier-fixed-iv"
	FaultCredStoreStateFixed              Fault = "credstorestate-fixed"
	FaultPersistentTokenSurvivesChangePIN Fault = "pcmr-survives-changepin"
	FaultPCMRWithOtherPermissions         Fault = "pcmr-with-other-permissions"
	FaultAttFormatsPreferenceIgnored      Fault = "attestation-formats-preference-ignored"
	FaultPINComplexityIgnored             Fault = "pin-complexity-ignored"
	FaultAlwaysUVKeepsU2F                 Fault = "alwaysuv-keeps-u2f"
)

// faultCatalogue is every fault, in the order `virtkey faults` lists them.
var faultCatalogue = []FaultInfo{
	{FaultCounterZero, "rp", "every signature counter is 0, so a relying party cannot detect a cloned key", "CTAP 2.1 §6.1.2 step 17, §6.2.2 step 13; WebAuthn L3 §6.1.1", ""},
	{FaultCounterRepeat, "rp", "the signature counter stops after its first increment and repeats", "WebAuthn L3 §6.1.1 (signature counter increases by some positive value)", ""},
	{FaultCounterNotPersisted, "rp", "getAssertion does not save the signature counter, so it goes back after a power cycle", "WebAuthn L3 §6.1.1; CTAP 2.1 §6.2.2 step 13", ""},
	{FaultNoUVFlag, "rp", "getAssertion verifies the user with a token but leaves the UV bit of authData clear", "CTAP 2.1 §6.2.2 step 6 (set the \"uv\" bit); WebAuthn L3 §6.1", ""},
	{FaultUPFlagAlways, "rp", "getAssertion with up false still sets the UP bit without a test of user presence", "CTAP 2.1 §6.2.2 step 9 (\"up\" bit false when up is false)", ""},
	{FaultWrongCredentialID, "rp", "the assertion's credential member is not the credential that signed", "CTAP 2.1 §6.2.2 step 13 (credential: PublicKeyCredentialDescriptor of the credential used)", ""},
	{FaultBadAttestationSig, "rp", "the packed attestation signature does not verify with the x5c certificate", "W3C WebAuthn L3 §8.2 (packed attestation verification); CTAP 2.1 §6.1.2 step 19", ""},
	{FaultBSWithoutBE, "rp", "assertions carry the BS (backed up) flag without BE (backup eligible)", "W3C WebAuthn L3 §6.1 (BS may be set only when BE is set)", ""},

	{FaultPINRetriesNotDecremented, "clientpin", "a wrong PIN does not decrement pinRetries", "CTAP 2.1 §6.5.5.7.2 step 7, §6.5.5.6 step 6", ""},
	{FaultPINMismatchLimitIgnored, "clientpin", "three consecutive wrong PINs do not block PIN use until a power cycle", "CTAP 2.1 §6.5.5.7.2 step 8 (CTAP2_ERR_PIN_AUTH_BLOCKED)", ""},
	{FaultTokenSurvivesChangePIN, "clientpin", "changePIN leaves the pinUvAuthToken in use", "CTAP 2.1 §6.5.5.6 step 10 (resetPinUvAuthToken)", ""},
	{FaultTokenPermissionsIgnored, "clientpin", "a pinUvAuthToken is accepted for commands its permissions do not include", "CTAP 2.1 §6.5.5.7, §6.1.2 step 11.4.1, §6.2.2 step 6.1", ""},
	{FaultTokenRPIDIgnored, "clientpin", "a pinUvAuthToken bound to one RP ID is accepted for another", "CTAP 2.1 §6.1.2 step 11.4.2, §6.2.2 step 6.1.3", ""},
	{FaultTokenAnyProtocol, "clientpin", "a pinUvAuthToken issued under one PIN/UV protocol is accepted under the other", "CTAP 2.1 §6.5.4 (each protocol's own pinUvAuthToken), §6.5.5.7", ""},

	{FaultExcludeListIgnored, "mc", "makeCredential makes a new credential even when excludeList names one of the RP's", "CTAP 2.1 §6.1.2 step 12 (CTAP2_ERR_CREDENTIAL_EXCLUDED)", ""},
	{FaultRKIgnored, "mc", "makeCredential with rk true makes a non-discoverable credential", "CTAP 2.1 §6.1.2 step 17 (store a discoverable credential)", ""},
	{FaultUserPIIWithoutUV, "ga", "getAssertion returns the user's name and displayName without user verification", "CTAP 2.1 §6.2.2 step 12.3 (only the user id without uv)", ""},
	{FaultCredentialsOldFirst, "ga", "discoverable credentials are returned oldest first", "CTAP 2.1 §6.2.2 step 12.2.1 (sorted by creation time, most recent first)", ""},
	{FaultAllowListIgnored, "ga", "getAssertion with an allowList looks only at the RP's discoverable credentials", "CTAP 2.1 §6.2.2 step 7.1 (locate allowList credentials)", ""},

	{FaultCredManDeleteNoop, "credman", "deleteCredential answers success and keeps the credential", "CTAP 2.1 §6.8.5 step 7 (delete the credential)", ""},
	{FaultCredManMetadataCount, "credman", "getCredsMetadata reports one discoverable credential more than there are", "CTAP 2.1 §6.8.2 (existingResidentCredentialsCount)", ""},
	{FaultLargeBlobHashUnchecked, "largeblobs", "a large-blob array whose trailing hash is wrong is stored", "CTAP 2.1 §6.10.2 step 5.j (CTAP2_ERR_INTEGRITY_FAILURE)", ""},
	{FaultAlwaysUVToggleNoop, "config", "toggleAlwaysUv answers success and leaves alwaysUv as it was", "CTAP 2.1 §6.11.2", ""},

	{FaultCredProtectIgnored, "ext", "userVerificationRequired credentials are used without user verification", "CTAP 2.1 §12.1, §6.2.2 step 7.4", ""},
	{FaultHMACSecretSameUV, "ext", "hmac-secret gives the same output with and without user verification", "CTAP 2.1 §12.5 (CredRandomWithUV and CredRandomWithoutUV)", ""},

	{FaultResetWindowIgnored, "reset", "authenticatorReset is allowed any time after power-up", "CTAP 2.1 §6.6 (within 10 seconds of power-up; CTAP2_ERR_NOT_ALLOWED)", ""},
	{FaultResetKeepsPIN, "reset", "authenticatorReset leaves the PIN set", "CTAP 2.1 §6.6 (reset the PIN and its retries)", ""},

	{FaultMCUpFalseAccepted, "mc", "makeCredential with the up option false makes a credential instead of refusing the option", "CTAP 2.1 §6.1.2 step 5.6 (CTAP2_ERR_INVALID_OPTION)", ""},
	{FaultMCDeclineIgnored, "mc", "makeCredential makes the credential although the user declined the touch", "CTAP 2.1 §6.1.2 step 14 (CTAP2_ERR_OPERATION_DENIED)", ""},
	{FaultGNANoTimer, "ga", "getNextAssertion answers after its 30-second timer ran out", "CTAP 2.1 §6.3 step 3 (CTAP2_ERR_NOT_ALLOWED)", ""},
	{FaultGNASurvivesOtherCommand, "ga", "getNextAssertion still answers after another command came between", "CTAP 2.1 §6.3 (state discarded on any other command)", ""},
	{FaultInfoAAGUIDDiffers, "getinfo", "getInfo's aaguid is not the AAGUID in attested credential data", "CTAP 2.1 §6.4 (aaguid); WebAuthn L3 §6.5.1", ""},
	{FaultSetPINTwice, "clientpin", "setPIN replaces a PIN that is already set", "CTAP 2.1 §6.5.5.5 step 3 (CTAP2_ERR_PIN_AUTH_INVALID)", ""},
	{FaultPINMinLengthIgnored, "clientpin", "a PIN shorter than the minimum PIN length is accepted", "CTAP 2.1 §6.5.5.5 step 7 (CTAP2_ERR_PIN_POLICY_VIOLATION)", ""},
	{FaultLegacyTokenAllPermissions, "clientpin", "getPinToken's token also has the cm, lbw and acfg permissions", "CTAP 2.1 §6.5.5.7.1 (mc and ga permissions only)", ""},
	{FaultSelectionDeclineIgnored, "selection", "authenticatorSelection answers success although the user declined", "CTAP 2.1 §6.9 (CTAP2_ERR_OPERATION_DENIED)", ""},
	{FaultLargeBlobOffsetUnchecked, "largeblobs", "a large-blob write fragment at an unexpected offset is not refused", "CTAP 2.1 §6.10.2 step 5.d (CTAP1_ERR_INVALID_SEQ)", ""},
	{FaultMinPINLengthShrinks, "config", "setMinPINLength lowers the minimum PIN length", "CTAP 2.1 §6.11.4 (CTAP2_ERR_PIN_POLICY_VIOLATION)", ""},
	{FaultEnableEPNoop, "config", "enableEnterpriseAttestation answers success and leaves ep false", "CTAP 2.1 §6.11.1, §7.1", ""},
	{FaultResetKeepsCredentials, "reset", "authenticatorReset leaves the discoverable credentials", "CTAP 2.1 §6.6", ""},
	{FaultResetDeclineIgnored, "reset", "authenticatorReset resets although the user declined the touch", "CTAP 2.1 §6.6 (CTAP2_ERR_OPERATION_DENIED)", ""},
	{FaultU2FRegisterWithoutPresence, "u2f", "U2F register makes a key pair without user presence", "FIDO U2F Raw Message Formats §4.3 (SW_CONDITIONS_NOT_SATISFIED)", ""},
	{FaultCredManUpdateUserNoop, "credman", "updateUserInformation answers success and keeps the old name and displayName", "CTAP 2.1 §6.8.6 step 10", ""},
	{FaultCredBlobNotStored, "ext", "credBlob is never stored (output false) for a discoverable credential", "CTAP 2.1 §12.2 (store a credBlob of at most maxCredBlobLength)", ""},
	{FaultTokenNotConsumed, "clientpin", "a pinUvAuthToken used by getAssertion keeps its permissions and user verified flag", "CTAP 2.1 §6.2.2 step 9 (clearUserVerifiedFlag, clearPinUvAuthTokenPermissionsExceptLbw)", ""},
	{FaultTokenNoExpiry, "clientpin", "a pinUvAuthToken never reaches its usage time limits", "CTAP 2.1 §6.5.2.1 (pinUvAuthTokenUsageTimerObserver)", ""},
	{FaultPINRetriesNotRestored, "clientpin", "the right PIN does not restore pinRetries to the maximum", "CTAP 2.1 §6.5.5.7.2 step 9 (set pinRetries to maximum)", ""},
	{FaultChangePINNoop, "clientpin", "changePIN answers success and keeps the old PIN", "CTAP 2.1 §6.5.5.6 step 10", ""},
	{FaultAlwaysUVNotEnforced, "config", "with alwaysUv on, makeCredential and getAssertion run without user verification", "CTAP 2.1 §7.2, §6.1.2 step 6, §6.2.2 step 5", ""},
	{FaultGADeclineIgnored, "ga", "getAssertion signs although the user declined the touch", "CTAP 2.1 §6.2.2 step 9 (CTAP2_ERR_OPERATION_DENIED)", ""},
	{FaultMCTimeoutIgnored, "mc", "makeCredential makes the credential when the touch timed out", "CTAP 2.1 §6.1.2 step 14 (CTAP2_ERR_OPERATION_DENIED)", ""},
	{FaultResetTimeoutIgnored, "reset", "authenticatorReset resets when the touch timed out", "CTAP 2.1 §6.6 (CTAP2_ERR_USER_ACTION_TIMEOUT)", ""},
	{FaultSelectionTimeoutIgnored, "selection", "authenticatorSelection answers success when the touch timed out", "CTAP 2.1 §6.9 (CTAP2_ERR_USER_ACTION_TIMEOUT)", ""},
	{FaultInfoRemainingWrong, "getinfo", "getInfo's remainingDiscoverableCredentials does not go down as credentials are made", "CTAP 2.1 §6.4 (remainingDiscoverableCredentials)", ""},
	{FaultMCNoUVFlag, "mc", "makeCredential verifies the user with a token but leaves the UV bit clear", "CTAP 2.1 §6.1.2 step 11 (set the \"uv\" bit)", ""},
	{FaultU2FDontEnforceSetsUP, "u2f", "U2F authenticate with dont-enforce-user-presence claims user presence it did not test", "FIDO U2F Raw Message Formats §5.1, §5.4 (user presence byte)", ""},
	{FaultResetKeepsLargeBlobs, "reset", "authenticatorReset leaves the large-blob array", "CTAP 2.1 §6.6 (the initial serialized large-blob array)", ""},
	{FaultHMACSecretSaltAuthUnchecked, "ext", "hmac-secret answers a salt whose saltAuth does not verify", "CTAP 2.1 §12.5 (verify(shared secret, saltEnc, saltAuth); CTAP2_ERR_PIN_AUTH_INVALID)", ""},
	{FaultMCAlwaysDiscoverable, "mc", "makeCredential stores every credential as discoverable, rk false or absent", "CTAP 2.1 §6.1.2 steps 5.4, 17 (rk false: a non-discoverable credential)", ""},
	{FaultU2FCheckOnlySigns, "u2f", "U2F authenticate with control byte check-only signs instead of answering SW_CONDITIONS_NOT_SATISFIED", "FIDO U2F Raw Message Formats §5.1", ""},
	{FaultEncIdentifierFixedIV, "ctap22", "encIdentifier and encCredStoreState are encrypted under an all-zero IV, the same bytes at every getInfo", "CTAP 2.2 §6.4 (encIdentifier: a fresh IV at every getInfo)", ""},
	{FaultCredStoreStateFixed, "ctap22", "encCredStoreState stays the same when discoverable credentials are made or deleted", "CTAP 2.2 §6.4 (encCredStoreState), §6.1.2 step 17", ""},
	{FaultPersistentTokenSurvivesChangePIN, "ctap22", "changePIN leaves the persistentPinUvAuthToken (pcmr) valid", "CTAP 2.2 §6.5.5.6 (resetPersistentPinUvAuthToken)", ""},
	{FaultPCMRWithOtherPermissions, "ctap22", "the pcmr permission is granted together with other permissions", "CTAP 2.2 §6.5.5.7 (pcmr alone; CTAP2_ERR_UNAUTHORIZED_PERMISSION)", ""},
	{FaultAttFormatsPreferenceIgnored, "ctap22", "makeCredential ignores attestationFormatsPreference and always gives the key's default format", "CTAP 2.2 §6.1.2 step 19 (the supported format with the lowest index in attestationFormatsPreference)", ""},
	{FaultPINComplexityIgnored, "ctap22", "with the PIN complexity policy on, setPIN and changePIN accept a repeated or sequential PIN", "CTAP 2.2 §6.11.4 (pinComplexityPolicy), §6.5.5.5 step 7 (CTAP2_ERR_PIN_POLICY_VIOLATION)", ""},
	{FaultAlwaysUVKeepsU2F, "u2f", "with alwaysUv on, getInfo still lists U2F_V2 and U2F register and authenticate still work", "CTAP 2.1 §7.2 (CTAP1/U2F has no user verification)", ""},
	{FaultPINProtocolCrash, "crash", "clientPIN indexes its protocol table with pinUvAuthProtocol unchecked: any value but 1 or 2 crashes the key (the daemon's process exits)", "CTAP 2.1 §6.5.5.1 (an unsupported pinUvAuthProtocol is CTAP1_ERR_INVALID_PARAMETER)", ""},
}

// faultFamilies is the order of the families in Faults.
var faultFamilies = []string{"rp", "getinfo", "mc", "ga", "clientpin", "credman", "largeblobs", "config", "ext", "selection", "reset", "u2f", "ctap22", "crash"}

// Faults returns the catalogue, family by family, in the order `virtkey
// faults` lists it.
func Faults() []FaultInfo {
	fs := slices.Clone(faultCatalogue)
	slices.SortStableFunc(fs, func(x, y FaultInfo) int {
		return slices.Index(faultFamilies, x.Family) - slices.Index(faultFamilies, y.Family)
	})
	return fs
}

// LookupFault returns the catalogue entry of name.
func LookupFault(name Fault) (FaultInfo, bool) {
	for _, f := range faultCatalogue {
		if f.Name == name {
			return f, true
		}
	}
	return FaultInfo{}, false
}

// ParseFaults splits a comma-separated list of fault names, refusing an
// unknown one. An empty string is no faults.
func ParseFaults(s string) ([]Fault, error) {
	var fs []Fault
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, ok := LookupFault(Fault(n)); !ok {
			return nil, fmt.Errorf("authenticator: unknown fault %q (virtkey faults lists them)", n)
		}
		fs = append(fs, Fault(n))
	}
	return fs, nil
}

// faultSet builds the key's set from Config.Faults, refusing a name that
// is not in the catalogue.
func faultSet(names []Fault) (map[Fault]bool, error) {
	if len(names) == 0 {
		return nil, nil
	}
	set := make(map[Fault]bool, len(names))
	for _, n := range names {
		if _, ok := LookupFault(n); !ok {
			return nil, fmt.Errorf("authenticator: unknown fault %q", n)
		}
		set[n] = true
	}
	return set, nil
}

// faulty reports whether the key was built with fault f, and tells
// Config.FaultReached that the key came to fault f's place.
func (a *Authenticator) faulty(f Fault) bool {
	if a.faultReached != nil {
		a.faultReached(f)
	}
	return a.faults[f]
}

// infoAAGUID is getInfo's aaguid (CTAP 2.1 §6.4): the key's AAGUID.
func (a *Authenticator) infoAAGUID() []byte {
	if a.faulty(FaultInfoAAGUIDDiffers) {
		g := a.aaguid
		g[15] ^= 0x01
		return g[:]
	}
	return a.aaguid[:]
}

// faultyRemaining is getInfo's remainingDiscoverableCredentials: remaining,
// or with FaultInfoRemainingWrong the capacity of an empty key.
func (a *Authenticator) faultyRemaining(remaining uint64) *uint64 {
	if a.faulty(FaultInfoRemainingWrong) {
		all := uint64(a.maxCreds)
		return &all
	}
	return &remaining
}
