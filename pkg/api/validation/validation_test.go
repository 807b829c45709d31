package validation

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// check runs fn over the cases: a nil want means the value must be valid;
// otherwise the messages must equal want exactly.
func check(t *testing.T, name string, fn func(string) []string, cases map[string][]string) {
	t.Helper()
	for value, want := range cases {
		got := fn(value)
		if len(want) == 0 {
			if len(got) != 0 {
				t.Errorf("%s(%q) = %q, want valid", name, value, got)
			}
			continue
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s(%q) =\n  %q\nwant\n  %q", name, value, got, want)
		}
	}
}

const (
	labelMsg     = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
	subdomainMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	dns1035Msg   = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
	qnameMsg     = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
	lvalueMsg    = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

func TestRegexError(t *testing.T) {
	if got, want := RegexError("m", "re"), "m (regex used for validation is 're')"; got != want {
		t.Errorf("no examples: %q, want %q", got, want)
	}
	if got, want := RegexError("m", "re", "a", "b"), "m (e.g. 'a',  or 'b', regex used for validation is 're')"; got != want {
		t.Errorf("examples: %q, want %q", got, want)
	}
}

func TestIsDNS1123Label(t *testing.T) {
	check(t, "IsDNS1123Label", IsDNS1123Label, map[string][]string{
		"a": nil, "ab": nil, "abc": nil, "a1": nil, "a-1": nil, "a--1--2--b": nil, "0": nil, "01": nil, "1-a": nil,
		strings.Repeat("a", 63):  nil,
		"":                       {labelMsg},
		"A":                      {labelMsg},
		"ABC":                    {labelMsg},
		"aBc":                    {labelMsg},
		"-":                      {labelMsg},
		"a-":                     {labelMsg},
		"-a":                     {labelMsg},
		"a_b":                    {labelMsg},
		"a b":                    {labelMsg},
		"Foo_":                   {labelMsg},
		"a.b":                    {"must not contain dots"},
		"my.name.example":        {"must not contain dots"},
		strings.Repeat("a", 64):  {"must be no more than 63 characters"},
		strings.Repeat("A", 64):  {"must be no more than 63 characters", labelMsg},
		strings.Repeat("a.", 40): {"must be no more than 63 characters", labelMsg},
	})
}

func TestIsDNS1123Subdomain(t *testing.T) {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61)
	check(t, "IsDNS1123Subdomain", IsDNS1123Subdomain, map[string][]string{
		"a": nil, "a.b": nil, "example.com": nil, "a-1.b-2.c-3": nil, "0.0": nil, "1.2.3.4": nil, long: nil,
		"":            {subdomainMsg},
		".":           {subdomainMsg},
		"a.":          {subdomainMsg},
		".a":          {subdomainMsg},
		"a..b":        {subdomainMsg},
		"a.-b":        {subdomainMsg},
		"a-.b":        {subdomainMsg},
		"Example.com": {subdomainMsg},
		"a_b.c":       {subdomainMsg},
		long + "d":    {"must be no more than 253 characters"},
	})
}

func TestIsDNS1035Label(t *testing.T) {
	check(t, "IsDNS1035Label", IsDNS1035Label, map[string][]string{
		"a": nil, "my-name": nil, "abc-123": nil, "a--b": nil,
		strings.Repeat("a", 63): nil,
		"":                      {dns1035Msg},
		"1":                     {dns1035Msg},
		"123-abc":               {dns1035Msg},
		"a-":                    {dns1035Msg},
		"a.b":                   {dns1035Msg},
		"Abc":                   {dns1035Msg},
		strings.Repeat("a", 64): {"must be no more than 63 characters"},
	})
}

func TestIsQualifiedName(t *testing.T) {
	prefixLabelMsg := "prefix part " + subdomainMsg
	check(t, "IsQualifiedName", IsQualifiedName, map[string][]string{
		"simple": nil, "now-with-dashes": nil, "1-starts-with-num": nil, "1234": nil,
		"simple/simple": nil, "now-with-dashes/simple": nil, "now-with-dashes/now-with-dashes": nil,
		"now.with.dots/simple": nil, "now-with.dashes-and.dots/simple": nil, "1-num.2-num/3-num": nil,
		"1234/5678": nil, "1.2.3.4/5678": nil, "Uppercase_Is_OK_123": nil,
		"example.com/Uppercase_Is_OK_123": nil, "requests.storage-foo": nil,
		strings.Repeat("a", 63):                                  nil,
		strings.Repeat("a", 253) + "/" + strings.Repeat("b", 63): nil,
		"":                                {"name part must be non-empty", qnameMsg},
		"/":                               {"prefix part must be non-empty", "name part must be non-empty", qnameMsg},
		"/simple":                         {"prefix part must be non-empty"},
		"nospecialchars%^=@":              {qnameMsg},
		"cantendwithadash-":               {qnameMsg},
		"-cantstartwithadash-":            {qnameMsg},
		"only/one/slash":                  {"a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"},
		"Example.com/abc":                 {prefixLabelMsg},
		"example_com/abc":                 {prefixLabelMsg},
		"example.com/":                    {"name part must be non-empty", qnameMsg},
		"a/b c":                           {qnameMsg},
		strings.Repeat("a", 64):           {"name part must be no more than 63 characters"},
		strings.Repeat("a", 254) + "/abc": {"prefix part must be no more than 253 characters"},
		strings.Repeat("a", 64) + "-":     {"name part must be no more than 63 characters", qnameMsg},
	})
}

func TestIsValidLabelValue(t *testing.T) {
	check(t, "IsValidLabelValue", IsValidLabelValue, map[string][]string{
		"": nil, "simple": nil, "now-with-dashes": nil, "1-starts-with-num": nil, "end-with-num-1": nil,
		"1234": nil, "UPPERCASE_with_underscores": nil, "a.b_c-d": nil, strings.Repeat("a", 63): nil,
		"nospecialchars%^=@":          {lvalueMsg},
		"Tama-nui-te-rā.is.Māori.sun": {lvalueMsg},
		"\\backslashes\\are\\bad":     {lvalueMsg},
		"-starts-with-dash":           {lvalueMsg},
		"ends-with-dash-":             {lvalueMsg},
		".starts.with.dot":            {lvalueMsg},
		"has/slash":                   {lvalueMsg},
		"has space":                   {lvalueMsg},
		strings.Repeat("a", 64):       {"must be no more than 63 characters"},
	})
}

func TestIsValidPortNum(t *testing.T) {
	for _, p := range []int{1, 80, 443, 8080, 65535} {
		if errs := IsValidPortNum(p); len(errs) != 0 {
			t.Errorf("IsValidPortNum(%d) = %q", p, errs)
		}
	}
	for _, p := range []int{-1, 0, 65536, 1 << 20} {
		errs := IsValidPortNum(p)
		if len(errs) != 1 || errs[0] != "must be between 1 and 65535, inclusive" {
			t.Errorf("IsValidPortNum(%d) = %q", p, errs)
		}
	}
	if errs := IsInRange(5, 1, 10); errs != nil {
		t.Errorf("IsInRange(5,1,10) = %q", errs)
	}
	if errs := IsInRange(11, 1, 10); len(errs) != 1 || errs[0] != "must be between 1 and 10, inclusive" {
		t.Errorf("IsInRange(11,1,10) = %q", errs)
	}
}

func TestIsValidPortName(t *testing.T) {
	const charset = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
	const letter = "must contain at least one letter (a-z)"
	check(t, "IsValidPortName", IsValidPortName, map[string][]string{
		"telnet": nil, "re-mail-ck": nil, "pop3": nil, "a": nil, "a-1-b": nil, "1-a": nil, "a-1": nil, "http": nil,
		"123456789abcdef":  nil,
		"":                 {charset, letter},
		"1234":             {letter},
		"telnet--":         {"must not contain consecutive hyphens", "must not begin or end with a hyphen"},
		"-telnet":          {"must not begin or end with a hyphen"},
		"telnet-":          {"must not begin or end with a hyphen"},
		"tel--net":         {"must not contain consecutive hyphens"},
		"Telnet":           {charset},
		"tel_net":          {charset},
		"123456789abcdefg": {"must be no more than 15 characters"},
		"-":                {letter, "must not begin or end with a hyphen"},
	})
}

func TestIsValidIP(t *testing.T) {
	const msg = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
	check(t, "IsValidIP", IsValidIP, map[string][]string{
		"127.0.0.1": nil, "10.9.8.7": nil, "0.0.0.0": nil, "255.255.255.255": nil,
		"::1": nil, "2001:db8::ffff": nil, "::": nil, "::ffff:1.2.3.4": nil, "fe80::1": nil,
		"":                {msg},
		"1.2.3":           {msg},
		"1.2.3.4.5":       {msg},
		"256.0.0.1":       {msg},
		"010.1.1.1":       {msg},
		"1.2.3.4/24":      {msg},
		"fe80::1%eth0":    {msg},
		"2001:db8::ffff:": {msg},
		"example.com":     {msg},
		" 1.2.3.4":        {msg},
	})
	check(t, "IsValidIPv4Address", IsValidIPv4Address, map[string][]string{
		"1.2.3.4": nil, "::ffff:1.2.3.4": {"must be a valid IPv4 address"}, "::1": {"must be a valid IPv4 address"}, "x": {"must be a valid IPv4 address"},
	})
	check(t, "IsValidIPv6Address", IsValidIPv6Address, map[string][]string{
		"::1": nil, "::ffff:1.2.3.4": nil, "1.2.3.4": {"must be a valid IPv6 address"}, "x": {"must be a valid IPv6 address"},
	})
}

func TestIsValidCIDR(t *testing.T) {
	const msg = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
	check(t, "IsValidCIDR", IsValidCIDR, map[string][]string{
		"10.9.8.0/24": nil, "0.0.0.0/0": nil, "10.9.8.7/32": nil, "10.9.8.7/24": nil, "2001:db8::/64": nil, "::/0": nil,
		"":            {msg},
		"10.9.8.7":    {msg},
		"10.9.8.0/33": {msg},
		"10.9.8.0/":   {msg},
		"::/129":      {msg},
		"x/24":        {msg},
	})
}

func TestIsEnvVarName(t *testing.T) {
	const msg = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
	check(t, "IsEnvVarName", IsEnvVarName, map[string][]string{
		"A": nil, "ABC": nil, "AbC_123": nil, "_": nil, "_123": nil, "a.b": nil, "a-b": nil, "-": nil, ".a": nil, "my.env-name": nil,
		"":        {msg},
		"1":       {msg},
		"123_abc": {msg},
		"a b":     {msg},
		"a=b":     {msg},
		".":       {"must not be '.'"},
		"..":      {"must not be '..'"},
		"..a":     {"must not start with '..'"},
	})
}

func TestIsConfigMapKey(t *testing.T) {
	const msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
	check(t, "IsConfigMapKey", IsConfigMapKey, map[string][]string{
		"a": nil, "ab": nil, "abc": nil, "a1": nil, "a-1": nil, "a_1": nil, "a.1": nil, "A": nil, "AB": nil, "1": nil,
		".a": nil, "a.": nil, ".a.b": nil, "config.yaml": nil, strings.Repeat("a", 253): nil,
		"":                       {msg},
		"a/b":                    {msg},
		"a b":                    {msg},
		".":                      {"must not be '.'"},
		"..":                     {"must not be '..'"},
		"..a":                    {"must not start with '..'"},
		strings.Repeat("a", 254): {"must be no more than 253 characters"},
	})
}

// refLabelChars reports whether s is non-empty, made of [a-z0-9-] and
// neither starts nor ends with '-'. It and the helpers below are independent,
// regex-free implementations used to cross-check the validators.
func refLabelChars(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func refDNS1123Label(s string) bool {
	return len(s) <= 63 && refLabelChars(s)
}

func refDNS1123Subdomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !refLabelChars(part) {
			return false
		}
	}
	return true
}

func refQualifiedNamePart(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func FuzzValidators(f *testing.F) {
	for _, s := range []string{"", "a", "a.b", "A", "-a", "example.com/name", "a/b/c", "1.2.3.4", "::1",
		"10.0.0.0/8", "..", "MY_VAR", "http", "tel--net", strings.Repeat("a", 64), "\xff", "é"} {
		f.Add(s)
	}
	regexps := []struct {
		name  string
		re    *regexp.Regexp
		match func(string) bool
	}{
		{"qualified name", regexp.MustCompile("^" + qualifiedNameFmt + "$"), matchesQualifiedName},
		{"DNS-1123 label", regexp.MustCompile("^" + dns1123LabelFmt + "$"), matchesDNS1123Label},
		{"DNS-1123 subdomain", regexp.MustCompile("^" + dns1123SubdomainFmt + "$"), matchesDNS1123Subdomain},
		{"DNS-1035 label", regexp.MustCompile("^" + dns1035LabelFmt + "$"), matchesDNS1035Label},
	}
	f.Fuzz(func(t *testing.T, s string) {
		// The hand-written matchers agree with the regular expressions quoted
		// in the messages.
		for _, r := range regexps {
			if got, want := r.match(s), r.re.MatchString(s); got != want {
				t.Fatalf("%s matcher(%q) = %v, regexp says %v", r.name, s, got, want)
			}
		}
		label := len(IsDNS1123Label(s)) == 0
		if label != refDNS1123Label(s) {
			t.Fatalf("IsDNS1123Label(%q) valid=%v, reference says %v", s, label, !label)
		}
		sub := len(IsDNS1123Subdomain(s)) == 0
		if sub != refDNS1123Subdomain(s) {
			t.Fatalf("IsDNS1123Subdomain(%q) valid=%v, reference says %v", s, sub, !sub)
		}
		if label && !sub {
			t.Fatalf("%q is a label but not a subdomain", s)
		}
		if len(IsDNS1035Label(s)) == 0 && (!label || s[0] < 'a' || s[0] > 'z') {
			t.Fatalf("%q is a DNS-1035 label but not an RFC 1123 label starting with a letter", s)
		}

		qn := len(IsQualifiedName(s)) == 0
		want := false
		switch prefix, name, found := strings.Cut(s, "/"); {
		case !found:
			want = refQualifiedNamePart(s)
		case strings.Contains(name, "/"):
			want = false
		default:
			want = refDNS1123Subdomain(prefix) && refQualifiedNamePart(name)
		}
		if qn != want {
			t.Fatalf("IsQualifiedName(%q) valid=%v, reference says %v (%q)", s, qn, want, IsQualifiedName(s))
		}
		lv := len(IsValidLabelValue(s)) == 0
		if lv != (s == "" || refQualifiedNamePart(s)) {
			t.Fatalf("IsValidLabelValue(%q) valid=%v", s, lv)
		}

		// Every message is non-empty, readable text.
		all := [][]string{IsDNS1123Label(s), IsDNS1123Subdomain(s), IsDNS1035Label(s), IsQualifiedName(s),
			IsValidLabelValue(s), IsValidPortName(s), IsValidIP(s), IsValidCIDR(s), IsEnvVarName(s), IsConfigMapKey(s)}
		for _, msgs := range all {
			for _, m := range msgs {
				if m == "" || !utf8.ValidString(m) {
					t.Fatalf("bad message %q for %q", m, s)
				}
			}
		}
		if len(IsValidPortName(s)) == 0 && (len(s) > 15 || !label || strings.Contains(s, "--")) {
			t.Fatalf("IsValidPortName accepted %q", s)
		}
		if len(IsConfigMapKey(s)) == 0 && (s == "" || s == "." || strings.HasPrefix(s, "..") || len(s) > 253) {
			t.Fatalf("IsConfigMapKey accepted %q", s)
		}
		if len(IsEnvVarName(s)) == 0 && (s == "" || s[0] >= '0' && s[0] <= '9' || s == "." || strings.HasPrefix(s, "..")) {
			t.Fatalf("IsEnvVarName accepted %q", s)
		}
	})
}
