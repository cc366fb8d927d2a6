package collect

import (
	"reflect"
	"testing"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "systemd-resolved stub", in: "# managed by systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
			want: []string{"127.0.0.53"}},
		{name: "zone stripped from link-local", in: "nameserver 192.168.1.1\nnameserver fe80::1%wlp2s0\n",
			want: []string{"192.168.1.1", "fe80::1"}},
		{name: "comments, tabs and trailing text", in: "# nameserver 10.0.0.1\n; nameserver 10.0.0.2\nnameserver\t9.9.9.9\n  nameserver 1.1.1.1 # cloudflare\n",
			want: []string{"9.9.9.9", "1.1.1.1"}},
		{name: "IPv6 normalised", in: "nameserver 2001:4860:4860:0:0:0:0:8888\n", want: []string{"2001:4860:4860::8888"}},
		{name: "invalid and bare lines dropped", in: "nameserver\nnameserver dns.example\nnameservers 8.8.8.8\nnameserver 8.8.4.4\n",
			want: []string{"8.8.4.4"}},
		{name: "no nameserver", in: "search example.com\n", want: nil},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseResolvConf([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
