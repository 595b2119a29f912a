package eval

// strSet is an immutable set of strings: a slice for short lists (a linear
// scan beats hashing) and a map for long ones. Lookups do not allocate.
type strSet struct {
	list []string
	m    map[string]struct{}
}

const smallSet = 8

func newStrSet(items []string) strSet {
	if len(items) <= smallSet {
		return strSet{list: items}
	}
	m := make(map[string]struct{}, len(items))
	for _, s := range items {
		m[s] = struct{}{}
	}
	return strSet{m: m}
}

func (s *strSet) has(v string) bool {
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	for _, x := range s.list {
		if x == v {
			return true
		}
	}
	return false
}
