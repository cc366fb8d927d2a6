package analysis

import (
	"hash/fnv"
	"strings"
	"unicode"
)

// MinHash with LSH banding, small enough to read in one sitting (Broder
// 1997; Leskovec, Rajaraman and Ullman, Mining of Massive Datasets, ch. 3).
// A text becomes the set of its word triples (shingles); its signature
// keeps, for each of minhashK hash functions, the smallest hash of any
// shingle. Two signatures agree at one position with probability equal to
// the Jaccard similarity of the two sets, so the share of agreeing
// positions estimates it (standard error sqrt(J(1-J)/64), 0.06 at J = 0.6).
// Banding finds candidates without comparing every pair: the signature is
// cut into lshBands bands of lshRows rows, and two texts are candidates when
// any band is equal: probability 1-(1-J^3)^21, 0.99 at J = 0.6, 0.16 at
// J = 0.2; candidates are then kept by their estimated similarity.
const (
	minhashK = 64
	lshBands = 21
	lshRows  = 3
)

// signature is a text's MinHash signature: the low 32 bits of each minimum
// (two texts' minima agree by chance with probability 2^-32 per hash; half
// the memory of an index of 100,000).
type signature [minhashK]uint32

// minhashSeeds are the hash functions: h_i(x) = mix(x ^ seed_i). Fixed, so
// signatures are the same in every process.
var minhashSeeds = func() (s [minhashK]uint64) {
	x := uint64(0x6661726d77617463) // "farmwatc"
	for i := range s {
		x += 0x9e3779b97f4a7c15
		s[i] = mix64(x)
	}
	return s
}()

// mix64 is the splitmix64 finaliser: a bijection whose output bits each
// depend on every input bit.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// shingles returns the distinct hashed word triples of text: words are runs
// of letters and digits, lower-cased.
func shingles(text string) []uint64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(words) < 3 {
		return nil
	}
	seen := make(map[uint64]struct{}, len(words))
	out := make([]uint64, 0, len(words))
	h := fnv.New64a()
	for i := 0; i+3 <= len(words); i++ {
		h.Reset()
		h.Write([]byte(words[i]))
		h.Write([]byte{' '})
		h.Write([]byte(words[i+1]))
		h.Write([]byte{' '})
		h.Write([]byte(words[i+2]))
		v := h.Sum64()
		if _, dup := seen[v]; !dup {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}

// minhash is the signature of a shingle set (not empty).
func minhash(sh []uint64) *signature {
	var low [minhashK]uint64
	for i := range low {
		low[i] = ^uint64(0)
	}
	for _, x := range sh {
		for i, seed := range minhashSeeds {
			if v := mix64(x ^ seed); v < low[i] {
				low[i] = v
			}
		}
	}
	var s signature
	for i, v := range low {
		s[i] = uint32(v)
	}
	return &s
}

// similarity is the estimated Jaccard similarity of the two sets.
func (s *signature) similarity(o *signature) float64 {
	n := 0
	for i := range s {
		if s[i] == o[i] {
			n++
		}
	}
	return float64(n) / minhashK
}

// bands are the signature's LSH bucket keys, the band number mixed in so
// equal rows of different bands do not collide.
func (s *signature) bands() [lshBands]uint64 {
	var out [lshBands]uint64
	for b := range out {
		k := mix64(uint64(b) + 1)
		for r := range lshRows {
			k = mix64(k ^ uint64(s[b*lshRows+r]))
		}
		out[b] = k
	}
	return out
}
