package collect

import (
	"bufio"
	"bytes"
	"strings"
)

// colonLines calls fn with the trimmed key and value of every "key: value"
// line of b (the value is everything after the first colon).
func colonLines(b []byte, fn func(k, v string)) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			fn(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
}
