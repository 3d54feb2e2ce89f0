/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package registry

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCheckGroups(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("g%d", i)
		}
		return out
	}
	tests := []struct {
		name   string
		groups []string
		fields []string // the fields at fault, none when valid
	}{
		{"none", nil, nil},
		{"usual names", []string{"dev", "team.platform", "org/team", "dev:readers", "ops@example.com", "a+b", "A-1_x"}, nil},
		{"128 characters", []string{strings.Repeat("g", 128)}, nil},
		{"64 groups", many(64), nil},
		{"129 characters", []string{strings.Repeat("g", 129)}, []string{"groups[0]"}},
		{"65 groups", many(65), []string{"groups"}},
		{"empty", []string{"dev", ""}, []string{"groups[1]"}},
		{"space", []string{"dev team"}, []string{"groups[0]"}},
		{"leading punctuation", []string{":dev", "-dev", ".dev"}, []string{"groups[0]", "groups[1]", "groups[2]"}},
		{"control characters", []string{"dev\x00", "dev\n", "dev\x7f", "\tdev"}, []string{"groups[0]", "groups[1]", "groups[2]", "groups[3]"}},
		{"not ASCII", []string{"développeurs"}, []string{"groups[0]"}},
		{"quote and comma", []string{`a"b`, "a,b"}, []string{"groups[0]", "groups[1]"}},
		{"repeated", []string{"dev", "ops", "dev"}, []string{"groups[2]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := CheckGroups(tt.groups)
			if err != nil {
				errs := []error{err}
				var joined interface{ Unwrap() []error }
				if errors.As(err, &joined) {
					errs = joined.Unwrap()
				}
				for _, e := range errs {
					var fe *FieldError
					if !errors.As(e, &fe) || fe.Reason == "" {
						t.Fatalf("%v is no FieldError with a reason", e)
					}
					got = append(got, fe.Field)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.fields, " ") {
				t.Errorf("CheckGroups(%q) faults %v, want %v (%v)", tt.groups, got, tt.fields, err)
			}
		})
	}
}
