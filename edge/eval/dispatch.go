package eval

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"sync"
)

// Bucket returns FeatBit's dispatch bucket of key, a number in [0, 1]:
// the absolute value of the signed little-endian int32 made of the first four
// bytes of MD5(UTF-8 key), divided by -2^31. For a rollout the key is
// flag key + dispatch attribute, with no separator.
func Bucket(key string) float64 {
	return bucket3("", key, "")
}

// scratchSize is the largest dispatch input hashed in a stack buffer; longer
// inputs use a pooled buffer.
const scratchSize = 256

// bigScratch is a pooled buffer for dispatch inputs longer than scratchSize.
// Lifetime: taken by bucket3, filled, hashed and returned before bucket3
// returns; nothing keeps a reference to it.
type bigScratch struct{ b []byte }

var bigPool = sync.Pool{New: func() any { return new(bigScratch) }}

// bucket3 returns the bucket of a+b+c without allocating (for inputs up to
// scratchSize bytes; longer inputs reuse pooled buffers).
func bucket3(a, b, c string) float64 {
	var sum [md5.Size]byte
	if n := len(a) + len(b) + len(c); n <= scratchSize {
		var buf [scratchSize]byte
		k := copy(buf[:], a)
		k += copy(buf[k:], b)
		k += copy(buf[k:], c)
		sum = md5.Sum(buf[:k])
	} else {
		s := bigPool.Get().(*bigScratch)
		s.b = append(append(append(s.b[:0], a...), b...), c...)
		sum = md5.Sum(s.b)
		if cap(s.b) <= 64<<10 { // do not keep huge buffers alive
			bigPool.Put(s)
		}
	}
	n := int32(binary.LittleEndian.Uint32(sum[:4]))
	return math.Abs(float64(n) / -2147483648.0)
}

// needsBucket reports whether inRange needs the bucket for [lo, hi], so
// callers hash only when a range is decided by it.
func needsBucket(lo, hi float64) bool {
	return lo != 0 || (!(1-hi < 1e-5) && hi != 0)
}

// inRange is FeatBit's range test: [0, ~1] (1-hi < 1e-5) always contains
// the user, [0, 0] never does, otherwise both ends are inclusive.
func inRange(lo, hi, b float64) bool {
	if lo == 0 && 1-hi < 1e-5 {
		return true
	}
	if lo == 0 && hi == 0 {
		return false
	}
	return lo <= b && b <= hi
}
