package store

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// codec turns stored reports into compact values: protobuf, then zstd.
// Reports compress to a few hundred bytes, well under bbolt's 4 KB page, so
// values never take a page of their own.
type codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
	buf sync.Pool
}

func newCodec() *codec {
	// One encoder per core: reports are encoded by the ingest callers, in
	// parallel (EncodeAll is safe for concurrent use).
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	if err != nil {
		panic(err) // only on invalid options
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	if err != nil {
		panic(err)
	}
	return &codec{enc: enc, dec: dec}
}

func (c *codec) encode(sr *pb.StoredReport) ([]byte, error) {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
	if err != nil {
		return nil, fmt.Errorf("marshal report: %w", err)
	}
	return c.enc.EncodeAll(raw, make([]byte, 0, len(raw)/2)), nil
}

func (c *codec) decode(v []byte) (*pb.StoredReport, error) {
	raw, err := c.dec.DecodeAll(v, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress report: %w", err)
	}
	sr := &pb.StoredReport{}
	if err := proto.Unmarshal(raw, sr); err != nil {
		return nil, fmt.Errorf("unmarshal report: %w", err)
	}
	return sr, nil
}
