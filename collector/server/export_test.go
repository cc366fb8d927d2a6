package server

// For the external tests, which may import the simulator (it imports this
// package).
var (
	DecodeLenient = decodeLenient
	DecodeRequest = decodeRequest
)
