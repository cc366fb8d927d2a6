package geo

// CountryName returns the English name of an ISO 3166-1 alpha-2 code, or "" when the code is unknown.
func CountryName(code string) string {
	return countryNames[code]
}
