package scenario

import (
	"testing"
	"time"
)

// acks: flag 0 written at versions 2, 3, 4 (markers 1, 2, 3), flag 1 at
// versions 7, 8 (markers 4, 5).
func testAcks() *Acks {
	a := NewAcks()
	for _, w := range []WriteAck{
		{Marker: 1, Flag: 0, Version: 2, SentNs: 1000},
		{Marker: 2, Flag: 0, Version: 3, SentNs: 2000},
		{Marker: 4, Flag: 1, Version: 7, SentNs: 2500},
		{Marker: 3, Flag: 0, Version: 4, SentNs: 3000},
		{Marker: 5, Flag: 1, Version: 8, SentNs: 4000},
	} {
		a.Add(w)
	}
	return a
}

func TestCheckOrder(t *testing.T) {
	full := []Delivery{{Flag: 0, Marker: -1, UpdatedAt: 10, Msg: 0, Full: true}, {Flag: 1, Marker: -1, UpdatedAt: 11, Msg: 0, Full: true}}
	d := func(msg, flag int, marker, stamp int64) Delivery {
		return Delivery{Flag: flag, Marker: marker, UpdatedAt: stamp, RecvNs: 5000 + int64(msg), Msg: msg}
	}
	cases := []struct {
		name string
		ds   []Delivery
		want OrderStats
	}{
		{"every state in order", []Delivery{d(1, 0, 1, 20), d(2, 0, 2, 21), d(3, 1, 4, 22), d(4, 0, 3, 23), d(5, 1, 5, 24)},
			OrderStats{Delivered: 5}},
		{"collapsed intermediates, finals there", []Delivery{d(1, 0, 1, 20), d(2, 1, 5, 24), d(3, 0, 3, 25)},
			OrderStats{Delivered: 3, Collapsed: 2}},
		{"two flags in one message", []Delivery{d(1, 0, 3, 23), d(1, 1, 5, 22)},
			OrderStats{Delivered: 2, Collapsed: 3}},
		{"out of order", []Delivery{d(1, 0, 2, 21), d(2, 0, 1, 22), d(3, 0, 3, 23), d(4, 1, 5, 24)},
			OrderStats{Delivered: 3, Collapsed: 2, OutOfOrder: 1}},
		{"duplicate", []Delivery{d(1, 0, 3, 23), d(2, 0, 3, 23), d(3, 1, 5, 24)},
			OrderStats{Delivered: 2, Collapsed: 3, Duplicates: 1}},
		{"missing final of one flag", []Delivery{d(1, 0, 1, 20), d(2, 0, 2, 21), d(3, 1, 5, 24)},
			OrderStats{Delivered: 3, Collapsed: 2, MissingFinal: 1}},
		{"nothing after the full sync", nil,
			OrderStats{Collapsed: 5, MissingFinal: 2}},
		{"older state after the last", []Delivery{d(1, 0, 3, 23), d(2, 1, 5, 24), d(3, 0, 2, 21)},
			OrderStats{Delivered: 2, Collapsed: 3, OutOfOrder: 1}},
		{"a state read again after newer ones of other flags (a reconnect)", []Delivery{d(1, 0, 3, 23), d(2, 1, 5, 24), d(3, 0, 3, 23)},
			OrderStats{Delivered: 2, Collapsed: 3, Duplicates: 1}},
		{"timestamp goes back across messages", []Delivery{d(1, 1, 5, 30), d(2, 0, 3, 23)},
			OrderStats{Delivered: 2, Collapsed: 3, StampBack: 1}},
		{"a value no write set", []Delivery{d(1, 0, 3, 23), d(2, 1, 5, 24), d(3, 1, 99, 25)},
			OrderStats{Delivered: 2, Collapsed: 3, Unknown: 1}},
		{"marker of another flag", []Delivery{d(1, 0, 3, 23), d(2, 1, 5, 24), d(3, 1, 3, 25)},
			OrderStats{Delivered: 2, Collapsed: 3, Unknown: 1}},
	}
	for _, c := range cases {
		c.want.Acked, c.want.FlagsChecked = 5, 2
		var n int
		got := CheckOrder(testAcks(), append(append([]Delivery(nil), full...), c.ds...), func(time.Duration) { n++ })
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
		if int64(n) != got.Delivered {
			t.Errorf("%s: %d latencies for %d delivered", c.name, n, got.Delivered)
		}
		if ok := c.want.OutOfOrder == 0 && c.want.Duplicates == 0 && c.want.MissingFinal == 0 && c.want.Unknown == 0 && c.want.StampBack == 0; got.OK() != ok {
			t.Errorf("%s: OK %v", c.name, got.OK())
		}
	}
}

func TestCheckOrderLatencyAndSameVersion(t *testing.T) {
	a := testAcks()
	var lat []time.Duration
	CheckOrder(a, []Delivery{{Flag: 0, Marker: 3, UpdatedAt: 5, RecvNs: 3500, Msg: 1}, {Flag: 1, Marker: 5, UpdatedAt: 6, RecvNs: 4100, Msg: 2}},
		func(d time.Duration) { lat = append(lat, d) })
	if len(lat) != 2 || lat[0] != 500 || lat[1] != 100 {
		t.Fatalf("latencies %v, want [500ns 100ns]", lat)
	}
	if a.SameVersion() != 0 {
		t.Fatal("same version counted without one")
	}
	a.Add(WriteAck{Marker: 6, Flag: 1, Version: 8})
	if a.SameVersion() != 1 {
		t.Fatal("two acknowledged writes at version 8 of flag 1 not counted")
	}
	if w, _ := a.Last(0); w.Marker != 3 {
		t.Fatalf("last of flag 0 %+v", w)
	}
}
