package main

import (
	"io"
	"net/netip"
	"slices"
	"testing"
)

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		list string
		want []string
		bad  bool
	}{
		{"", nil, false},
		{"10.0.0.1", []string{"10.0.0.1/32"}, false},
		{" 10.1.2.3/8 , ::ffff:192.168.1.5,fd00::/8,", []string{"10.0.0.0/8", "192.168.1.5/32", "fd00::/8"}, false},
		{"10.0.0.0/33", nil, true},
		{"proxy.example.com", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.list, func(t *testing.T) {
			sc, err := parseServe([]string{"--trusted-proxies", tc.list}, io.Discard)
			if (err != nil) != tc.bad {
				t.Fatalf("parseServe(--trusted-proxies %q) error %v, want error %v", tc.list, err, tc.bad)
			}
			var got []string
			for _, p := range sc.Web.TrustedProxies {
				got = append(got, p.String())
			}
			if !tc.bad && !slices.Equal(got, tc.want) {
				t.Errorf("trusted proxies %v, want %v", got, tc.want)
			}
		})
	}
	t.Setenv("ATTUNE_TRUSTED_PROXIES", "127.0.0.1")
	if sc, err := parseServe(nil, io.Discard); err != nil || !slices.Equal(sc.Web.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}) {
		t.Errorf("from the environment: %v, %v", sc.Web.TrustedProxies, err)
	}
}
