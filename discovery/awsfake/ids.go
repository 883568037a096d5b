package awsfake

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"
)

// created is the creation time reported for every resource, so that
// replies are deterministic.
var created = time.Date(2025, 1, 6, 9, 30, 0, 0, time.UTC)

const isoMillis = "2006-01-02T15:04:05.000Z"

// mix is splitmix64: a bijection that spreads a counter over 64 bits.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// next advances the id counter; f.mu is held.
func (f *Fake) next() uint64 {
	f.seq++
	return mix(f.seq)
}

// hexID returns an EC2-style id: prefix, "-", 17 hex digits ("i-0…").
func (f *Fake) hexID(prefix string) string {
	return fmt.Sprintf("%s-0%016x", prefix, f.next())
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

func (f *Fake) upperID(n int) string { return spell(f.next(), upperAlnum, n) }
func (f *Fake) lowerID(n int) string { return spell(f.next(), lowerAlnum, n) }
func (f *Fake) uuid() string         { return uuidFrom(f.next()) }

// spell writes n characters of alphabet drawn from the seed.
func spell(seed uint64, alphabet string, n int) string {
	b := make([]byte, n)
	x := seed
	for i := range b {
		if i > 0 && i%10 == 0 {
			x = mix(x)
		}
		b[i] = alphabet[x%uint64(len(alphabet))]
		x /= uint64(len(alphabet))
	}
	return string(b)
}

func uuidFrom(x uint64) string {
	y := mix(x)
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		uint32(x>>32), uint16(x>>16), uint16(x)&0xfff, uint16(y>>48)&0x3fff|0x8000, y&0xffffffffffff)
}

// stable derives a short lowercase token from a seed string: the
// per-account, per-region fragment of RDS and Redshift host names.
func stable(seed string, n int) string {
	h := fnv.New64a()
	h.Write([]byte(seed))
	return "c" + spell(mix(h.Sum64()), lowerAlnum, n-1)
}

// hostIP returns the n-th usable address of an IPv4 prefix, counting from
// .10 so that the addresses AWS reserves are never handed out. Prefixes of
// 16 addresses or fewer get their network address.
func hostIP(p netip.Prefix, n int) string {
	if !p.Addr().Is4() {
		return ""
	}
	b := p.Masked().Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	size := uint64(1) << (32 - p.Bits())
	if size > 16 {
		// .10 up to the last address but one; a full subnet wraps around
		// rather than leave it.
		v += uint32(10 + uint64(n)%(size-11))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}
