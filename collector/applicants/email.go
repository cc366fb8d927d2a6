package applicants

//go:generate go run ./internal/disposablegen -version 1.0.62 -integrity sha512-LBQvhRw7mznQTPoyZbsmYeNOZt1pN5aCsx4BAU/3siVFuiM9f2oyKzUaB8v1jbxFjE3aYqYiMo63kAL4pHgfWQ== -out disposable_domains.txt

import (
	_ "embed"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

//go:embed disposable_domains.txt
var disposableText string

// disposable is the list's entries, sorted: a slice of strings that point
// into the embedded text costs a third of a map's memory.
var disposable = sync.OnceValue(func() []string {
	lines := strings.Split(disposableText, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l != "" && l[0] != '#' {
			out = append(out, l)
		}
	}
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return slices.Clip(out)
})

func onList(list []string, s string) bool {
	_, found := slices.BinarySearch(list, s)
	return found
}

// Disposable reports whether domain (lower case) is on the embedded
// disposable-domain list, directly or under a "*." entry.
func Disposable(domain string) bool {
	list := disposable()
	if onList(list, domain) || onList(list, "*."+domain) {
		return true
	}
	for i := strings.IndexByte(domain, '.'); i >= 0; i = strings.IndexByte(domain, '.') {
		domain = domain[i+1:]
		if onList(list, "*."+domain) {
			return true
		}
	}
	return false
}

// How providers read a local part: gmail ignores dots and "+tag"; these
// others deliver "+tag" to the untagged box but keep dots.
var (
	ignoresDots = map[string]string{"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
	plusTags    = map[string]bool{"gmail.com": true, "googlemail.com": true, "outlook.com": true,
		"hotmail.com": true, "live.com": true, "icloud.com": true, "me.com": true, "fastmail.com": true,
		"protonmail.com": true, "proton.me": true, "pm.me": true}
)

// NormalizeEmail splits an address into local part and domain and gives the
// canonical form two applications' addresses are compared by.
func NormalizeEmail(raw string) (*pb.NormalizedEmail, error) {
	t := strings.TrimSpace(raw)
	if t == "" {
		return nil, errors.New("empty")
	}
	if len(t) > 254 {
		return nil, fmt.Errorf("%d bytes, limit 254", len(t))
	}
	addr, err := mail.ParseAddress(t)
	if err != nil || addr.Address != t || addr.Name != "" {
		return nil, fmt.Errorf("%q: not an address (want local@domain)", raw)
	}
	at := strings.LastIndexByte(t, '@')
	local, domain := t[:at], strings.ToLower(strings.TrimSuffix(t[at+1:], "."))
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
		return nil, fmt.Errorf("%q: domain %q is not a host name", raw, domain)
	}
	canon := strings.ToLower(local)
	if plusTags[domain] {
		if i := strings.IndexByte(canon, '+'); i > 0 {
			canon = canon[:i]
		}
	}
	canonDomain := domain
	if d, ok := ignoresDots[domain]; ok {
		canon = strings.ReplaceAll(canon, ".", "")
		canonDomain = d
	}
	return &pb.NormalizedEmail{
		Raw:        raw,
		Local:      local,
		Domain:     domain,
		Canonical:  canon + "@" + canonDomain,
		Disposable: Disposable(domain),
	}, nil
}
