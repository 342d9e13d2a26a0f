package webauthn

import (
	"net"
	"net/url"
	"strings"
)

// Origins and RP IDs.
//
// A WebAuthn client runs for one caller origin. WebAuthn Level 3 §5.1.3
// and §5.1.4 refuse an opaque origin (NotAllowedError) and an origin whose
// effective domain is not a valid domain, such as an IP address
// (SecurityError); the API exists only in a secure context, so the origin
// must be potentially trustworthy (W3C Secure Contexts §3.1): https, or
// http on localhost or a name under .localhost. An RP ID must equal the
// effective domain or be a registrable domain suffix of it (HTML "is a
// registrable domain suffix of or is equal to"), which needs the Public
// Suffix List.
//
// This package does not carry the Public Suffix List. Its built-in rule is
// a small, honest subset: every single-label name ("com", "dev") is a
// public suffix, and so are the multi-label suffixes in knownSuffixes,
// the widely used second-level registries and shared hosting domains
// where one owner's site must not claim another's. A relying party hosted
// under a public suffix missing from that list would be accepted where a
// browser refuses it; WithPublicSuffixList plugs in the full list, for
// example golang.org/x/net/publicsuffix.PublicSuffix.

// knownSuffixes are multi-label public suffixes from the Public Suffix
// List that the built-in rule knows.
var knownSuffixes = map[string]bool{
	"co.uk": true, "org.uk": true, "ac.uk": true, "gov.uk": true, "me.uk": true, "ltd.uk": true, "plc.uk": true,
	"com.au": true, "net.au": true, "org.au": true, "edu.au": true, "gov.au": true,
	"co.jp": true, "ne.jp": true, "or.jp": true, "ac.jp": true, "go.jp": true,
	"co.nz": true, "org.nz": true, "co.in": true, "co.za": true, "co.kr": true,
	"com.br": true, "com.cn": true, "com.mx": true, "com.tr": true, "com.tw": true, "com.hk": true, "com.sg": true,
	"github.io": true, "gitlab.io": true, "herokuapp.com": true, "appspot.com": true, "blogspot.com": true,
	"pages.dev": true, "workers.dev": true, "netlify.app": true, "vercel.app": true, "web.app": true,
	"firebaseapp.com": true, "azurewebsites.net": true, "cloudfront.net": true, "s3.amazonaws.com": true,
	"ngrok.io": true, "ngrok.app": true, "fly.dev": true, "onrender.com": true,
}

// builtinPublicSuffix returns the public suffix of domain under the
// built-in rule: the longest known multi-label suffix, else the last label.
func builtinPublicSuffix(domain string) (string, bool) {
	labels := strings.Split(domain, ".")
	for i := 0; i < len(labels)-1; i++ {
		s := strings.Join(labels[i:], ".")
		if knownSuffixes[s] {
			return s, true
		}
	}
	return labels[len(labels)-1], false
}

// origin is a parsed caller origin (HTML §7.5 tuple origin).
type origin struct {
	serialized string // scheme://host[:port], as clientDataJSON carries it
	host       string // the effective domain, lower case
}

// parseOrigin parses s, a serialized origin or a URL whose origin is
// meant, and applies §5.1.3 steps 2 and 3 and the secure-context rule.
func parseOrigin(s string) (*origin, error) {
	if s == "" || s == "null" {
		return nil, newError(ErrNotAllowed, "the caller origin is opaque", nil)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return nil, newError(ErrNotAllowed, "the caller origin "+quote(s)+" is opaque (not a URL with a host)", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		// file:, data:, about:, blob: and the like have opaque origins.
		return nil, newError(ErrNotAllowed, "the caller origin "+quote(s)+" is opaque (scheme "+scheme+")", nil)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || u.Opaque != "" {
		return nil, newError(ErrNotAllowed, "the caller origin "+quote(s)+" has no host", nil)
	}
	if net.ParseIP(host) != nil {
		return nil, newError(ErrSecurity, "the caller origin's effective domain "+host+" is an IP address, not a valid domain", nil)
	}
	if !validDomain(host) {
		return nil, newError(ErrSecurity, "the caller origin's effective domain "+quote(host)+" is not a valid domain", nil)
	}
	if scheme == "http" && !isLocalhost(host) {
		return nil, newError(ErrSecurity, "the caller origin "+quote(s)+" is not potentially trustworthy (https, or http on localhost)", nil)
	}
	ser := scheme + "://" + host
	if p := u.Port(); p != "" && !(scheme == "https" && p == "443") && !(scheme == "http" && p == "80") {
		ser += ":" + p
	}
	return &origin{serialized: ser, host: host}, nil
}

// isLocalhost reports whether host is localhost or under .localhost
// (W3C Secure Contexts §3.1, RFC 6761 §6.3).
func isLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// validDomain is a lenient check of a host name: ASCII labels of letters,
// digits, '-' and '_' (international names must come in their A-label
// form), none empty, at most 253 bytes.
func validDomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// checkRPID applies §5.1.3 step 8 and §5.1.4 step 7: rpID must equal the
// effective domain host or be a registrable domain suffix of it; an IP
// address, a public suffix or an unrelated name is a SecurityError.
func (c *Client) checkRPID(rpID string) error {
	host := c.origin.host
	if rpID == host {
		return nil
	}
	bad := func(why string) error {
		return newError(ErrSecurity, "RP ID "+quote(rpID)+" is not valid for origin "+c.origin.serialized+": "+why, nil)
	}
	if rpID == "" || net.ParseIP(rpID) != nil || !validDomain(rpID) {
		return bad("not a valid domain")
	}
	if !strings.HasSuffix(host, "."+rpID) {
		return bad("not a suffix of the origin's effective domain")
	}
	ps, _ := c.publicSuffix(host)
	if rpID == ps || strings.HasSuffix(ps, "."+rpID) {
		return bad("a public suffix")
	}
	if ps2, _ := c.publicSuffix(rpID); ps2 == rpID {
		return bad("a public suffix")
	}
	return nil
}

func quote(s string) string { return "\"" + s + "\"" }

// CheckOrigin applies NewClient's origin rules to origin without a
// device: nil, or the NotAllowedError or SecurityError NewClient would
// return.
func CheckOrigin(origin string) error {
	_, err := parseOrigin(origin)
	return err
}
