package validation

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// EmptyError is the message for a value that must not be empty.
func EmptyError() string {
	return "must be non-empty"
}

// MaxLenError is the message for a value longer than length characters.
func MaxLenError(length int) string {
	return fmt.Sprintf("must be no more than %d characters", length)
}

// InclusiveRangeError is the message for a number outside [lo, hi].
func InclusiveRangeError(lo, hi int) string {
	return fmt.Sprintf("must be between %d and %d, inclusive", lo, hi)
}

// RegexError is the message for a value that does not match the regular
// expression re; msg describes the format in words and examples are valid
// values.
func RegexError(msg, re string, examples ...string) string {
	if len(examples) == 0 {
		return msg + " (regex used for validation is '" + re + "')"
	}
	var b strings.Builder
	b.WriteString(msg)
	b.WriteString(" (e.g. ")
	for i, e := range examples {
		if i > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("'" + e + "', ")
	}
	b.WriteString("regex used for validation is '" + re + "')")
	return b.String()
}

func prefixEach(msgs []string, prefix string) []string {
	for i := range msgs {
		msgs[i] = prefix + msgs[i]
	}
	return msgs
}

const (
	qnameCharFmt           = "[A-Za-z0-9]"
	qnameExtCharFmt        = "[-A-Za-z0-9_.]"
	qualifiedNameFmt       = "(" + qnameCharFmt + qnameExtCharFmt + "*)?" + qnameCharFmt
	qualifiedNameErrMsg    = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
	qualifiedNameMaxLength = 63
)

// matchesQualifiedName reports whether s matches qualifiedNameFmt. This and
// the other match* functions are hand-written equivalents of the regular
// expressions quoted in the messages: label selectors validate every key and
// value they parse, so these are hot.
func matchesQualifiedName(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isLowerAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// matchesDNS1123Label reports whether s matches dns1123LabelFmt.
func matchesDNS1123Label(s string) bool {
	if s == "" || !isLowerAlnum(s[0]) || !isLowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// matchesDNS1123Subdomain reports whether s matches dns1123SubdomainFmt.
func matchesDNS1123Subdomain(s string) bool {
	for {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return matchesDNS1123Label(s)
		}
		if !matchesDNS1123Label(s[:i]) {
			return false
		}
		s = s[i+1:]
	}
}

// matchesDNS1035Label reports whether s matches dns1035LabelFmt.
func matchesDNS1035Label(s string) bool {
	return s != "" && 'a' <= s[0] && s[0] <= 'z' && matchesDNS1123Label(s)
}

// IsQualifiedName checks a label or annotation key: a name of at most 63
// characters, optionally prefixed by a DNS subdomain and '/', as in
// "example.com/MyName".
func IsQualifiedName(value string) []string {
	var errs []string
	prefix, name, hasPrefix := strings.Cut(value, "/")
	switch {
	case !hasPrefix:
		name = value
	case !strings.Contains(name, "/"):
		if prefix == "" {
			errs = append(errs, "prefix part "+EmptyError())
		} else if msgs := IsDNS1123Subdomain(prefix); len(msgs) != 0 {
			errs = append(errs, prefixEach(msgs, "prefix part ")...)
		}
	default:
		return append(errs, "a qualified name "+RegexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc")+
			" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
	}
	if name == "" {
		errs = append(errs, "name part "+EmptyError())
	} else if len(name) > qualifiedNameMaxLength {
		errs = append(errs, "name part "+MaxLenError(qualifiedNameMaxLength))
	}
	if !matchesQualifiedName(name) {
		errs = append(errs, "name part "+RegexError(qualifiedNameErrMsg, qualifiedNameFmt, "MyName", "my.name", "123-abc"))
	}
	return errs
}

const (
	labelValueFmt    = "(" + qualifiedNameFmt + ")?"
	labelValueErrMsg = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
	// LabelValueMaxLength is the maximum length of a label value.
	LabelValueMaxLength = 63
)

// IsValidLabelValue checks a label value: empty, or at most 63 alphanumeric
// characters, '-', '_' or '.', starting and ending with an alphanumeric.
func IsValidLabelValue(value string) []string {
	var errs []string
	if len(value) > LabelValueMaxLength {
		errs = append(errs, MaxLenError(LabelValueMaxLength))
	}
	if value != "" && !matchesQualifiedName(value) {
		errs = append(errs, RegexError(labelValueErrMsg, labelValueFmt, "MyValue", "my_value", "12345"))
	}
	return errs
}

const (
	dns1123LabelFmt    = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
	dns1123LabelErrMsg = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
	// DNS1123LabelMaxLength is the maximum length of an RFC 1123 label.
	DNS1123LabelMaxLength = 63
)

// IsDNS1123Label checks an RFC 1123 label (e.g. a namespace or container
// name): at most 63 lower case alphanumerics or '-', starting and ending with
// an alphanumeric.
func IsDNS1123Label(value string) []string {
	var errs []string
	if len(value) > DNS1123LabelMaxLength {
		errs = append(errs, MaxLenError(DNS1123LabelMaxLength))
	}
	if !matchesDNS1123Label(value) {
		if matchesDNS1123Subdomain(value) {
			// A valid subdomain but not a label: the length was checked above,
			// so the problem is the dots.
			errs = append(errs, "must not contain dots")
		} else {
			errs = append(errs, RegexError(dns1123LabelErrMsg, dns1123LabelFmt, "my-name", "123-abc"))
		}
	}
	return errs
}

const (
	dns1123SubdomainFmt    = dns1123LabelFmt + "(\\." + dns1123LabelFmt + ")*"
	dns1123SubdomainErrMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
	// DNS1123SubdomainMaxLength is the maximum length of an RFC 1123 subdomain.
	DNS1123SubdomainMaxLength = 253
)

// IsDNS1123Subdomain checks an RFC 1123 subdomain (e.g. most object names):
// at most 253 characters of dot-separated RFC 1123 labels.
func IsDNS1123Subdomain(value string) []string {
	var errs []string
	if len(value) > DNS1123SubdomainMaxLength {
		errs = append(errs, MaxLenError(DNS1123SubdomainMaxLength))
	}
	if !matchesDNS1123Subdomain(value) {
		errs = append(errs, RegexError(dns1123SubdomainErrMsg, dns1123SubdomainFmt, "example.com"))
	}
	return errs
}

const (
	dns1035LabelFmt    = "[a-z]([-a-z0-9]*[a-z0-9])?"
	dns1035LabelErrMsg = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"
	// DNS1035LabelMaxLength is the maximum length of an RFC 1035 label.
	DNS1035LabelMaxLength = 63
)

// IsDNS1035Label checks an RFC 1035 label (e.g. a service name): like an RFC
// 1123 label but starting with a letter.
func IsDNS1035Label(value string) []string {
	var errs []string
	if len(value) > DNS1035LabelMaxLength {
		errs = append(errs, MaxLenError(DNS1035LabelMaxLength))
	}
	if !matchesDNS1035Label(value) {
		errs = append(errs, RegexError(dns1035LabelErrMsg, dns1035LabelFmt, "my-name", "abc-123"))
	}
	return errs
}

// IsValidPortNum checks a TCP/UDP port number: 1 to 65535.
func IsValidPortNum(port int) []string {
	if 1 <= port && port <= 65535 {
		return nil
	}
	return []string{InclusiveRangeError(1, 65535)}
}

// IsInRange checks that value is in [min, max].
func IsInRange(value, min, max int) []string {
	if min <= value && value <= max {
		return nil
	}
	return []string{InclusiveRangeError(min, max)}
}

var (
	portNameCharsetRegexp   = regexp.MustCompile("^[-a-z0-9]+$")
	portNameOneLetterRegexp = regexp.MustCompile("[a-z]")
)

// IsValidPortName checks a port name (an IANA_SVC_NAME, RFC 6335): at most
// 15 lower case alphanumerics or '-', with at least one letter, no '--' and
// no '-' at either end.
func IsValidPortName(port string) []string {
	var errs []string
	if len(port) > 15 {
		errs = append(errs, MaxLenError(15))
	}
	if !portNameCharsetRegexp.MatchString(port) {
		errs = append(errs, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
	}
	if !portNameOneLetterRegexp.MatchString(port) {
		errs = append(errs, "must contain at least one letter (a-z)")
	}
	if strings.Contains(port, "--") {
		errs = append(errs, "must not contain consecutive hyphens")
	}
	if len(port) > 0 && (port[0] == '-' || port[len(port)-1] == '-') {
		errs = append(errs, "must not begin or end with a hyphen")
	}
	return errs
}

// IsValidIP checks an IPv4 or IPv6 address in its usual textual form. IPv4
// octets with leading zeros and IPv6 zones are rejected.
func IsValidIP(value string) []string {
	if net.ParseIP(value) == nil {
		return []string{"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"}
	}
	return nil
}

// IsValidIPv4Address checks an IPv4 address.
func IsValidIPv4Address(value string) []string {
	ip := net.ParseIP(value)
	if ip == nil || ip.To4() == nil || strings.Contains(value, ":") {
		return []string{"must be a valid IPv4 address"}
	}
	return nil
}

// IsValidIPv6Address checks an IPv6 address.
func IsValidIPv6Address(value string) []string {
	ip := net.ParseIP(value)
	if ip == nil || !strings.Contains(value, ":") {
		return []string{"must be a valid IPv6 address"}
	}
	return nil
}

// IsValidCIDR checks a CIDR such as 10.9.8.0/24 or 2001:db8::/64. Host bits
// may be set (10.9.8.7/24 is accepted), as in Kubernetes.
func IsValidCIDR(value string) []string {
	if _, _, err := net.ParseCIDR(value); err != nil {
		return []string{"must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"}
	}
	return nil
}

const (
	envVarNameFmt    = "[-._a-zA-Z][-._a-zA-Z0-9]*"
	envVarNameErrMsg = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit"
)

var envVarNameRegexp = regexp.MustCompile("^" + envVarNameFmt + "$")

// IsEnvVarName checks an environment variable name: alphabetic characters,
// digits, '_', '-' or '.', not starting with a digit, and not '.', '..' or
// starting with '..'.
func IsEnvVarName(value string) []string {
	var errs []string
	if !envVarNameRegexp.MatchString(value) {
		errs = append(errs, RegexError(envVarNameErrMsg, envVarNameFmt, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
	}
	return append(errs, hasChDirPrefix(value)...)
}

const (
	configMapKeyFmt    = "[-._a-zA-Z0-9]+"
	configMapKeyErrMsg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
)

var configMapKeyRegexp = regexp.MustCompile("^" + configMapKeyFmt + "$")

// IsConfigMapKey checks a ConfigMap or Secret key, which becomes a file name
// when mounted: at most 253 alphanumerics, '-', '_' or '.', and not '.', '..'
// or starting with '..'.
func IsConfigMapKey(value string) []string {
	var errs []string
	if len(value) > DNS1123SubdomainMaxLength {
		errs = append(errs, MaxLenError(DNS1123SubdomainMaxLength))
	}
	if !configMapKeyRegexp.MatchString(value) {
		errs = append(errs, RegexError(configMapKeyErrMsg, configMapKeyFmt, "key.name", "KEY_NAME", "key-name"))
	}
	return append(errs, hasChDirPrefix(value)...)
}

// hasChDirPrefix rejects names that would escape a directory when used as a
// file name.
func hasChDirPrefix(value string) []string {
	switch {
	case value == ".":
		return []string{"must not be '.'"}
	case value == "..":
		return []string{"must not be '..'"}
	case strings.HasPrefix(value, ".."):
		return []string{"must not start with '..'"}
	}
	return nil
}
