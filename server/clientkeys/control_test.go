/*
Copyright 2026 The Authly authors.

Licensed under the Apache License, Version 2.0.
*/

package clientkeys

import (
	"errors"
	"testing"
)

// The dialer's Control sees the address of the socket about to connect, whatever name
// resolution led there (a second answer of a DNS rebinding, say): it refuses the same
// addresses as the check before dialling.
func TestControlChecksTheAddressDialled(t *testing.T) {
	f, err := New(Config{AllowedHosts: []string{"192.168.10.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	control := f.control(false)
	for addr, refused := range map[string]bool{
		"127.0.0.1:443": true, "[::1]:443": true, "169.254.169.254:80": true, "10.0.0.1:443": true,
		"[fd00:ec2::254]:80": true, "[::ffff:10.0.0.1]:443": true, "100.100.100.200:80": true, "not an address": true,
		"192.168.10.7:443": false, "192.168.11.7:443": true, "8.8.8.8:443": false, "[2606:4700::1111]:443": false,
	} {
		err := control("tcp", addr, nil)
		if got := errors.Is(err, ErrForbiddenAddress); got != refused {
			t.Errorf("control(%s) = %v, want refused %v", addr, err, refused)
		}
	}
	if err := f.control(true)("tcp", "127.0.0.1:443", nil); err != nil {
		t.Errorf("an allowed host's address was refused: %v", err)
	}
}
