// Package catalog holds the versioned lists of remote-access tools and VPN
// clients that the farmwatch agent looks for among running processes.
//
// The agent reports a process only when it matches a catalog entry, so the
// catalog is also the privacy boundary: anything not listed here is never
// reported. Entries must therefore name processes specific to one product.
package catalog

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

//go:embed remote_access.json
var remoteAccessJSON []byte

//go:embed vpn_clients.json
var vpnClientsJSON []byte

// Catalog is one versioned list of tools with indexes for fast matching.
// A Catalog is immutable after Parse and safe for concurrent use; the Tools
// it returns share slices with it and must be treated as read-only.
type Catalog struct {
	Version string `json:"version"`
	Updated string `json:"updated"`
	Sources string `json:"sources"`
	Tools   []Tool `json:"tools"`

	byID    map[string]int
	names   map[string]map[string]int // goos -> folded process name -> tool
	prefix  map[string]map[string]int // goos -> truncated comm -> tool
	paths   map[string]*pathIndex     // goos -> path needles
	anyPath *pathIndex                // path needles for an unknown goos
	listen  map[uint16][]int
	ifaces  map[string][]int // folded interface hint -> tools that name it
}

// Tool is one remote-access tool or VPN client.
type Tool struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Vendor string `json:"vendor"`
	Kind   string `json:"kind"`
	// Processes maps a GOOS ("windows", "darwin", "linux") to process names.
	Processes map[string][]string `json:"processes"`
	// Paths are substrings of executable paths that identify the tool.
	Paths      []string `json:"paths,omitempty"`
	Ports      []Port   `json:"ports,omitempty"`
	Source     string   `json:"source"`
	Interfaces []string `json:"interfaces,omitempty"`
	// Install maps a GOOS to paths whose existence means the tool is
	// installed. Windows paths start with %ProgramFiles%,
	// %ProgramFiles(x86)% or %ProgramData%, which the agent expands.
	Install map[string][]string `json:"install,omitempty"`
}

// Port is a network port a tool listens on or connects out to.
type Port struct {
	Proto     string `json:"proto"`
	Port      uint16 `json:"port"`
	Direction string `json:"direction"`
	Note      string `json:"note,omitempty"`
}

// Kinds lists every allowed Tool.Kind.
var Kinds = []string{
	"remote-desktop", "rmm", "vnc", "rdp", "screen-share", "kvm-software", "tunnel",
	"vpn", "mesh",
}

// commLen is how many bytes of a process name the kernel keeps: Linux
// TASK_COMM_LEN is 16 with a NUL, macOS MAXCOMLEN is 16 without one.
var commLen = map[string]int{"linux": 15, "darwin": 16}

var (
	versionRE = regexp.MustCompile(`^\d{4}\.\d{1,2}\.\d+$`)
	dateRE    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	idRE      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

var (
	remoteAccess = sync.OnceValues(func() (*Catalog, error) { return Parse(remoteAccessJSON) })
	vpnClients   = sync.OnceValues(func() (*Catalog, error) { return Parse(vpnClientsJSON) })
)

// RemoteAccess returns the embedded catalog of remote-access tools. The
// embedded file is checked by the package tests; were it ever broken, an
// empty catalog is returned rather than a panic in the agent.
func RemoteAccess() *Catalog { return orEmpty(remoteAccess()) }

// VPNClients returns the embedded catalog of consumer VPN and mesh clients.
func VPNClients() *Catalog { return orEmpty(vpnClients()) }

func orEmpty(c *Catalog, err error) *Catalog {
	if err != nil {
		empty, _ := Parse([]byte(`{"version":"0.0.0","updated":"1970-01-01","tools":[]}`))
		return empty
	}
	return c
}

// Parse decodes a catalog file, validates it and builds its indexes.
func Parse(data []byte) (*Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("decode catalog: %w", err)
	}
	if err := c.index(); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", c.Version, err)
	}
	return &c, nil
}

// fold returns the form of a process name or path used as an index key:
// Windows and macOS file systems are case-insensitive, Linux is not.
func fold(goos, s string) string {
	if goos == "windows" || goos == "darwin" {
		return strings.ToLower(s)
	}
	return s
}

func (c *Catalog) index() error {
	var errs []error
	if !versionRE.MatchString(c.Version) {
		errs = append(errs, fmt.Errorf("version %q is not YYYY.MM.N", c.Version))
	}
	if !dateRE.MatchString(c.Updated) {
		errs = append(errs, fmt.Errorf("updated %q is not YYYY-MM-DD", c.Updated))
	}
	c.byID = make(map[string]int, len(c.Tools))
	c.names = map[string]map[string]int{}
	c.prefix = map[string]map[string]int{}
	c.listen = map[uint16][]int{}
	c.ifaces = map[string][]int{}
	var needles []needle
	for i, t := range c.Tools {
		errs = append(errs, t.validate()...)
		if j, dup := c.byID[t.ID]; dup {
			errs = append(errs, fmt.Errorf("tool %q: id also used by tool %d", t.ID, j))
		}
		c.byID[t.ID] = i
		for goos, names := range t.Processes {
			if c.names[goos] == nil {
				c.names[goos] = map[string]int{}
				c.prefix[goos] = map[string]int{}
			}
			for _, n := range names {
				key := fold(goos, n)
				if j, dup := c.names[goos][key]; dup && j != i {
					errs = append(errs, fmt.Errorf("tool %q: %s process %q also in %q", t.ID, goos, n, c.Tools[j].ID))
				}
				c.names[goos][key] = i
				if l := commLen[goos]; l > 0 && len(key) > l {
					if j, dup := c.prefix[goos][key[:l]]; dup && j != i {
						errs = append(errs, fmt.Errorf("tool %q: %s process %q truncates like one in %q", t.ID, goos, n, c.Tools[j].ID))
					}
					c.prefix[goos][key[:l]] = i
				}
			}
		}
		for _, p := range t.Paths {
			needles = append(needles, needle{text: p, tool: i})
		}
		for _, p := range t.Ports {
			if p.Direction == "listen" && !containsInt(c.listen[p.Port], i) {
				c.listen[p.Port] = append(c.listen[p.Port], i)
			}
		}
		for _, h := range t.Interfaces {
			if key := strings.ToLower(h); !containsInt(c.ifaces[key], i) {
				c.ifaces[key] = append(c.ifaces[key], i)
			}
		}
	}
	// A truncated comm that is itself a catalogued full name must mean that name.
	for goos, pre := range c.prefix {
		for key, i := range pre {
			if j, ok := c.names[goos][key]; ok && j != i {
				errs = append(errs, fmt.Errorf("tool %q: %s name %q is a truncation of a name in %q", c.Tools[j].ID, goos, key, c.Tools[i].ID))
			}
		}
	}
	c.paths = map[string]*pathIndex{
		"windows": newPathIndex("windows", needles),
		"darwin":  newPathIndex("darwin", needles),
		"linux":   newPathIndex("linux", needles),
	}
	c.anyPath = newPathIndex("", needles)
	return errors.Join(errs...)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (t Tool) validate() []error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("tool %q: "+format, append([]any{t.ID}, a...)...))
	}
	if !idRE.MatchString(t.ID) {
		bad("id is not a lowercase slug")
	}
	if t.Name == "" {
		bad("no name")
	}
	if t.Vendor == "" {
		bad("no vendor")
	}
	if !containsString(Kinds, t.Kind) {
		bad("kind %q not in %v", t.Kind, Kinds)
	}
	if strings.TrimSpace(t.Source) == "" {
		bad("no source")
	}
	n := 0
	for goos, names := range t.Processes {
		if _, ok := knownOS[goos]; !ok {
			bad("unknown OS %q", goos)
		}
		for _, name := range names {
			if name == "" || strings.ContainsAny(name, `/\`) {
				bad("%s process %q is empty or a path", goos, name)
			}
			n++
		}
	}
	if n == 0 {
		bad("no process names")
	}
	for _, p := range t.Paths {
		// Short needles would match unrelated software and leak it into reports.
		if len(p) < 8 {
			bad("path %q is shorter than 8 bytes", p)
		}
	}
	for _, p := range t.Ports {
		if p.Port == 0 || (p.Proto != "tcp" && p.Proto != "udp") || (p.Direction != "listen" && p.Direction != "outbound") {
			bad("port %+v needs proto tcp|udp, a port and direction listen|outbound", p)
		}
	}
	for _, iface := range t.Interfaces {
		if iface == "" {
			bad("empty interface hint")
		}
	}
	for goos, paths := range t.Install {
		if _, ok := knownOS[goos]; !ok {
			bad("install: unknown OS %q", goos)
		}
		for _, p := range paths {
			if !installPathOK(goos, p) {
				bad("%s install path %q is not absolute (windows: under %v) or climbs with ..", goos, p, windowsRoots)
			}
		}
	}
	return errs
}

// windowsRoots are the only starts a Windows install path may have: the
// agent runs as a service, so per-user folders are not its to look in.
var windowsRoots = []string{`%ProgramFiles%\`, `%ProgramFiles(x86)%\`, `%ProgramData%\`}

func installPathOK(goos, p string) bool {
	if strings.Contains(p, "..") {
		return false
	}
	if goos != "windows" {
		return len(p) > 1 && p[0] == '/'
	}
	for _, root := range windowsRoots {
		if len(p) > len(root) && strings.HasPrefix(p, root) {
			return true
		}
	}
	return false
}

var knownOS = map[string]struct{}{"windows": {}, "darwin": {}, "linux": {}}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// MatchProcess reports the tool a running process belongs to. goos is the
// agent's runtime.GOOS, name the process name as the OS reports it (on Linux
// the comm, possibly cut to 15 bytes) and exe the executable path, which may
// be empty. Names match case-insensitively on windows and darwin and exactly
// elsewhere; the base name of exe is tried as a name too, then the catalog's
// path substrings.
func (c *Catalog) MatchProcess(goos, name, exe string) (Tool, bool) {
	if i, ok := c.matchName(goos, name); ok {
		return c.Tools[i], true
	}
	if exe == "" {
		return Tool{}, false
	}
	if base := baseName(exe); base != name {
		if i, ok := c.matchName(goos, base); ok {
			return c.Tools[i], true
		}
	}
	idx := c.paths[goos]
	if idx == nil {
		idx = c.anyPath
	}
	if i, ok := idx.match(fold(goos, exe)); ok {
		return c.Tools[i], true
	}
	return Tool{}, false
}

func (c *Catalog) matchName(goos, name string) (int, bool) {
	if name == "" {
		return 0, false
	}
	key := fold(goos, name)
	if i, ok := c.names[goos][key]; ok {
		return i, true
	}
	if l := commLen[goos]; l > 0 && len(key) == l {
		if i, ok := c.prefix[goos][key]; ok {
			return i, true
		}
	}
	return 0, false
}

func baseName(p string) string {
	return p[strings.LastIndexAny(p, `/\`)+1:]
}

// ToolsListeningOn returns, in catalog order, the tools documented to listen
// on port (TCP or UDP). Many VNC servers share 5900, so several may return.
func (c *Catalog) ToolsListeningOn(port uint16) []Tool {
	idx := c.listen[port]
	if len(idx) == 0 {
		return nil
	}
	out := make([]Tool, len(idx))
	for k, i := range idx {
		out[k] = c.Tools[i]
	}
	return out
}

// MatchInterface returns, in catalog order, the tools whose interface hint
// is the longest case-insensitive prefix of an interface name, and whether
// that hint is specific: named by one tool only (nordlynx, tailscale0,
// wg0-mullvad). A shared hint (tun, utun, wg) names no client alone; the
// caller may relate it to one of the returned tools seen running.
func (c *Catalog) MatchInterface(name string) (tools []Tool, specific bool) {
	n := strings.ToLower(name)
	best := ""
	for h := range c.ifaces {
		if len(h) > len(best) && strings.HasPrefix(n, h) {
			best = h
		}
	}
	if best == "" {
		return nil, false
	}
	idx := c.ifaces[best]
	out := make([]Tool, len(idx))
	for k, i := range idx {
		out[k] = c.Tools[i]
	}
	return out, len(out) == 1
}

// Lookup returns the tool with the given id.
func (c *Catalog) Lookup(id string) (Tool, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Tool{}, false
	}
	return c.Tools[i], true
}

type needle struct {
	text string
	tool int
}

// pathIndex finds path needles in an executable path without scanning every
// needle: each needle is filed under one whole path segment it contains (a
// run between two separators), and a path only tries the needles filed
// under its own segments. Needles without a whole segment are scanned.
type pathIndex struct {
	bySegment map[string][]needle
	scan      []needle
}

// commonSegments are too widespread to file needles under when a more
// specific segment is available.
var commonSegments = map[string]bool{
	"applications": true, "program files": true, "program files (x86)": true,
	"programdata": true, "appdata": true, "roaming": true, "local": true,
	"usr": true, "opt": true, "lib": true, "libexec": true, "share": true,
	"bin": true, "sbin": true, "library": true, "system": true, "windows": true,
	"application support": true, "privilegedhelpertools": true, "coreservices": true,
}

func newPathIndex(goos string, needles []needle) *pathIndex {
	idx := &pathIndex{bySegment: map[string][]needle{}}
	for _, n := range needles {
		n.text = fold(goos, n.text)
		if seg := bestSegment(n.text); seg != "" {
			idx.bySegment[seg] = append(idx.bySegment[seg], n)
		} else {
			idx.scan = append(idx.scan, n)
		}
	}
	return idx
}

func isSep(b byte) bool { return b == '/' || b == '\\' }

// bestSegment returns the longest uncommon whole segment of a needle, else
// the longest common one, else "".
func bestSegment(s string) string {
	var best, bestCommon string
	start := -1
	for i := 0; i < len(s); i++ {
		if !isSep(s[i]) {
			continue
		}
		if start >= 0 && i > start+1 {
			seg := s[start+1 : i]
			if commonSegments[strings.ToLower(seg)] {
				if len(seg) > len(bestCommon) {
					bestCommon = seg
				}
			} else if len(seg) > len(best) {
				best = seg
			}
		}
		start = i
	}
	if best != "" {
		return best
	}
	return bestCommon
}

func (p *pathIndex) match(exe string) (int, bool) {
	start := -1
	for i := 0; i < len(exe); i++ {
		if !isSep(exe[i]) {
			continue
		}
		if start >= 0 && i > start+1 {
			for _, n := range p.bySegment[exe[start+1:i]] {
				if strings.Contains(exe, n.text) {
					return n.tool, true
				}
			}
		}
		start = i
	}
	for _, n := range p.scan {
		if strings.Contains(exe, n.text) {
			return n.tool, true
		}
	}
	return 0, false
}
