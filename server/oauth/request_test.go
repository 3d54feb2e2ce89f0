/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// parseForm's checks: which parameter is reported, in a stable order, credentials first;
// tab is the one control character allowed (RFC 6749 Appendix A, UNICODECHARNOCRLF).
func TestParseFormChecksText(t *testing.T) {
	tests := []struct {
		body, want string // want: the description's start, "" for no error
	}{
		{"username=a%09b&password=p%09w", ""},
		{"scope=openid&state=caf%C3%A9", ""},
		{"=a%00b", "a parameter without a name contains a control character"},
		{"b=%00&a=%FF", "a is not valid UTF-8"},
		{"a=%00&client_secret=%01", "client_secret contains a control character"},
		{"a%00=1", "a parameter name contains a control character"},
		{"client_id=" + strings.Repeat("x", 513), "client_id is longer than 512 bytes"},
		{"refresh_token=" + strings.Repeat("x", 16<<10), ""},
		{"refresh_token=" + strings.Repeat("x", 16<<10+1), "refresh_token is longer than 16384 bytes"},
		{"other=" + strings.Repeat("x", 8<<10+1), "other is longer than 8192 bytes"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, PathToken, strings.NewReader(tt.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, err := parseForm(httptest.NewRecorder(), r, false)
		got := ""
		if err != nil {
			e := asError(err)
			if e.Code != CodeInvalidRequest {
				t.Errorf("%.40q: code %s", tt.body, e.Code)
			}
			got = e.Description
		}
		if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
			t.Errorf("%.40q: %q, want %q", tt.body, got, tt.want)
		}
	}
}
