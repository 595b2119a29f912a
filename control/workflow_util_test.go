package control

import (
	"encoding/json"
	"strconv"
)

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func strconvFormat(n int64) string        { return strconv.FormatInt(n, 10) }
