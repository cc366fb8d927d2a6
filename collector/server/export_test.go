package server

import "google.golang.org/grpc/encoding"

// For the external tests, which may import the simulator (it imports this
// package).
var (
	DecodeLenient = decodeLenient
	DecodeRequest = decodeRequest
	NewWireCodec  = func() encoding.CodecV2 { return newWireCodec() }
)
