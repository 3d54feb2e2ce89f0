/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
)

// strs covers every escaping rule of encoding/json: quotes and backslashes, the short
// escapes, other control characters, the HTML-sensitive bytes, DEL, multi-byte UTF-8,
// U+2028 and U+2029, and invalid UTF-8 (a lone continuation byte, a truncated sequence).
var strs = []string{
	"", "plain", `quo"te`, `back\slash`, "\b\f\n\r\t", "\x00\x01\x1f", "<script>&amp;</script>",
	"\x7f", "héllo wörld ✓ 𝄞", "line\u2028sep\u2029", "bad\x80byte", "trunc\xe2\x82", "\xff\xfe",
	"https://issuer.example/path?a=b&c=d", strings.Repeat("x", 300),
}

// TestStringMatchesEncodingJSON checks that String writes exactly what json.Marshal does.
func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range strs {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
	for i := 0; i < 256; i++ {
		s := "a" + string([]byte{byte(i)}) + "b"
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestStringsAndFields checks arrays, null and the comma placement of Field.
func TestStringsAndFields(t *testing.T) {
	for _, v := range [][]string{nil, {}, {"a"}, strs} {
		want, _ := json.Marshal(v)
		if got := Strings(nil, v); string(got) != string(want) {
			t.Errorf("Strings(%q) = %s, want %s", v, got, want)
		}
	}
	b := append([]byte(nil), '{')
	b = StringField(b, "a", "x<")
	b = IntField(b, "n", -42)
	b = Field(b, "l")
	b = Strings(b, []string{"p", "q"})
	b = append(b, '}')
	want, _ := json.Marshal(struct {
		A string   `json:"a"`
		N int64    `json:"n"`
		L []string `json:"l"`
	}{"x<", -42, []string{"p", "q"}})
	if string(b) != string(want) {
		t.Errorf("got %s, want %s", b, want)
	}
}

// FuzzString compares String with json.Marshal on arbitrary input.
func FuzzString(f *testing.F) {
	for _, s := range strs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	})
}
