package codec

import "encoding/json"

// Clone returns a deep copy of f: no slice, map or nested value is shared
// with f. It copies through f's JSON form, so the copy is exactly what f
// would be after being stored and read back (nil and empty lists keep
// their JSON meaning).
func (f *Flag) Clone() *Flag {
	b, err := json.Marshal(f)
	if err != nil {
		panic("BUG: cannot encode a flag: " + err.Error())
	}
	var out Flag
	if err := json.Unmarshal(b, &out); err != nil {
		panic("BUG: cannot decode a flag: " + err.Error())
	}
	return &out
}
