package geotest

// DemoNetworks is the small geo database of the demo and the fleet
// simulator when no full database has been built (`make geodata`). Each
// prefix is a real /24 of the named network that DB-IP Lite (2026) places in
// the named city, so the demo reads the same with the full databases; the
// simulator gives its devices addresses inside them.
func DemoNetworks() []Network {
	return []Network{
		// Residential ISPs of honest hires.
		{Prefix: "70.112.1.0/24", Country: "US", CountryName: "United States", Region: "Texas", City: "Austin", Lat: 30.2672, Lon: -97.7431, AccuracyKM: 20, TimeZone: "America/Chicago", ASN: 11427, Org: "Charter Communications Inc"},
		{Prefix: "73.53.1.0/24", Country: "US", CountryName: "United States", Region: "Washington", City: "Seattle", Lat: 47.6062, Lon: -122.3321, AccuracyKM: 20, TimeZone: "America/Los_Angeles", ASN: 7922, Org: "Comcast Cable Communications, LLC"},
		{Prefix: "98.226.19.0/24", Country: "US", CountryName: "United States", Region: "Illinois", City: "Chicago", Lat: 41.8781, Lon: -87.6298, AccuracyKM: 20, TimeZone: "America/Chicago", ASN: 7922, Org: "Comcast Cable Communications, LLC"},
		{Prefix: "67.176.1.0/24", Country: "US", CountryName: "United States", Region: "Colorado", City: "Denver", Lat: 39.7392, Lon: -104.9903, AccuracyKM: 20, TimeZone: "America/Denver", ASN: 7922, Org: "Comcast Cable Communications, LLC"},
		{Prefix: "72.229.1.0/24", Country: "US", CountryName: "United States", Region: "New York", City: "New York", Lat: 40.7128, Lon: -74.0060, AccuracyKM: 20, TimeZone: "America/New_York", ASN: 12271, Org: "Charter Communications Inc"},
		{Prefix: "174.109.17.0/24", Country: "US", CountryName: "United States", Region: "North Carolina", City: "Raleigh", Lat: 35.7796, Lon: -78.6382, AccuracyKM: 20, TimeZone: "America/New_York", ASN: 11426, Org: "Charter Communications Inc"},
		{Prefix: "73.207.1.0/24", Country: "US", CountryName: "United States", Region: "Georgia", City: "Atlanta", Lat: 33.7490, Lon: -84.3880, AccuracyKM: 20, TimeZone: "America/New_York", ASN: 7922, Org: "Comcast Cable Communications, LLC"},
		{Prefix: "2601:600::/24", Country: "US", CountryName: "United States", Region: "Washington", City: "Seattle", Lat: 47.6062, Lon: -122.3321, AccuracyKM: 50, TimeZone: "America/Los_Angeles", ASN: 7922, Org: "Comcast Cable Communications, LLC"},
		// The laptop farm's home connection (Phoenix metro, where a well-documented farm ran).
		{Prefix: "68.2.1.0/24", Country: "US", CountryName: "United States", Region: "Arizona", City: "Phoenix", Lat: 33.4484, Lon: -112.0740, AccuracyKM: 20, TimeZone: "America/Phoenix", ASN: 22773, Org: "Cox Communications Inc."},
		// Another house in Phoenix, and a home line on AT&T's wireline network in San Antonio.
		{Prefix: "68.2.2.0/24", Country: "US", CountryName: "United States", Region: "Arizona", City: "Phoenix", Lat: 33.4484, Lon: -112.0740, AccuracyKM: 20, TimeZone: "America/Phoenix", ASN: 22773, Org: "Cox Communications Inc."},
		{Prefix: "99.57.1.0/24", Country: "US", CountryName: "United States", Region: "Texas", City: "San Antonio", Lat: 29.4241, Lon: -98.4936, AccuracyKM: 20, TimeZone: "America/Chicago", ASN: 7018, Org: "AT&T Enterprises, LLC"},
		// A VPN exit in California, close to a laptop in the western US.
		{Prefix: "23.230.105.0/24", Country: "US", CountryName: "United States", Region: "California", City: "Santa Clara", Lat: 37.3541, Lon: -121.9552, AccuracyKM: 20, TimeZone: "America/Los_Angeles", ASN: 9009, Org: "M247 Europe SRL"},
		// A hire who moved abroad (IPv6 on a Portuguese ISP).
		{Prefix: "2001:8a0::/32", Country: "PT", CountryName: "Portugal", Region: "Lisbon", City: "Lisbon", Lat: 38.7314, Lon: -9.1457, AccuracyKM: 100, TimeZone: "Europe/Lisbon", ASN: 3243, Org: "MEO - SERVICOS DE COMUNICACOES E MULTIMEDIA S.A."},
		// A commercial VPN exit (M247 hosts many consumer VPN exits).
		{Prefix: "146.70.35.0/24", Country: "NL", CountryName: "Netherlands", Region: "North Holland", City: "Amsterdam", Lat: 52.3676, Lon: 4.9041, AccuracyKM: 100, TimeZone: "Europe/Amsterdam", ASN: 9009, Org: "M247 Europe SRL"},
		// Remote controllers abroad.
		{Prefix: "113.224.1.0/24", Country: "CN", CountryName: "China", Region: "Liaoning", City: "Shenyang", Lat: 41.8057, Lon: 123.4315, AccuracyKM: 50, TimeZone: "Asia/Shanghai", ASN: 4837, Org: "CHINA UNICOM China169 Backbone"},
		{Prefix: "175.45.176.0/22", Country: "KP", CountryName: "North Korea", Region: "Pyongyang", City: "Pyongyang", Lat: 39.0392, Lon: 125.7625, AccuracyKM: 50, TimeZone: "Asia/Pyongyang", ASN: 131279, Org: "Star Joint Venture Co. Ltd."},
		{Prefix: "95.165.1.0/24", Country: "RU", CountryName: "Russia", Region: "Moscow", City: "Moscow", Lat: 55.7558, Lon: 37.6173, AccuracyKM: 50, TimeZone: "Europe/Moscow", ASN: 25513, Org: "PJSC Moscow city telephone network"},
		// A mobile carrier behind CGNAT (the device sees 100.64/10 inside; the collector sees this).
		{Prefix: "172.56.23.0/24", Country: "US", CountryName: "United States", Region: "Texas", City: "Dallas", Lat: 32.7767, Lon: -96.7970, AccuracyKM: 200, TimeZone: "America/Chicago", ASN: 21928, Org: "T-Mobile USA, Inc."},
	}
}
