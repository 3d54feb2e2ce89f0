/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package tokens

import (
	"encoding/json"
	"testing"
)

// TestAccessClaimsJSONMatchesEncodingJSON checks the hand-written encoding of the access
// token claims against encoding/json's, for one audience and several, optional claims
// present and absent, and strings that need escaping.
func TestAccessClaimsJSONMatchesEncodingJSON(t *testing.T) {
	odd := "a<b>&\"c\"\\\n\u2028é\xff"
	for _, c := range []accessTokenClaims{
		{},
		{Issuer: "https://issuer.example", Subject: "svc", Audience: audience{"svc"}, Expiry: 1700003600, IssuedAt: 1700000000,
			JTI: "abc", ClientID: "svc", Scope: "api:read"},
		{Issuer: odd, Subject: odd, Audience: audience{odd, "b"}, Expiry: -1, IssuedAt: 0, JTI: odd, ClientID: odd, Scope: odd, AuthTime: 42},
		{Audience: audience{}},
	} {
		want, err := json.Marshal(&c)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.appendJSON(nil); string(got) != string(want) {
			t.Errorf("%+v:\n got %s\nwant %s", c, got, want)
		}
	}
}
