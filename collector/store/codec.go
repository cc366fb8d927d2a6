package store

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// A stored report value is the report's deterministic protobuf, compressed.
// Its first byte says how:
//
//   - formatS2 (0x01): an S2 block follows. What reports are written as.
//   - 0x28: the whole value is a zstd frame (the frame's own magic number,
//     28 b5 2f fd). Reports written before S2 are kept and read as they are.
//
// Why S2 and not zstd: a report is a few hundred bytes of protobuf, too short
// for zstd's entropy stage to pay. On the simulator's reports
// (BenchmarkEncodeReport) marshalling plus S2 takes 2.5 µs and 513 bytes a
// report, marshalling plus zstd at its fastest level 10.2 µs and 496 bytes,
// from 561 bytes of protobuf: a twentieth of the collector's CPU per report,
// for 17 bytes in a report that takes about 1,500 on disk with its index and
// device state.
const formatS2 byte = 0x01

const zstdMagic0 byte = 0x28

// codec turns stored reports into compact values and back.
type codec struct {
	dec     *zstd.Decoder // for reports written before S2
	rawPool sync.Pool
}

func newCodec() *codec {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	if err != nil {
		panic(err) // only on invalid options
	}
	return &codec{dec: dec, rawPool: sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}}
}

// EncodeReport is the value the store keeps for a report (for tools that
// write or measure stores in the store's own format).
func EncodeReport(sr *pb.StoredReport) ([]byte, error) { return encodeS2(sr, nil) }

func (c *codec) encode(sr *pb.StoredReport) ([]byte, error) {
	bp := c.rawPool.Get().(*[]byte)
	v, err := encodeS2(sr, (*bp)[:0])
	if cap(*bp) <= 64<<10 { // keep ordinary buffers, not one grown by a huge report
		c.rawPool.Put(bp)
	}
	return v, err
}

// encodeS2 marshals into scratch (which may be nil) and returns a new value.
func encodeS2(sr *pb.StoredReport, scratch []byte) ([]byte, error) {
	raw, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(scratch, sr)
	if err != nil {
		return nil, fmt.Errorf("marshal report: %w", err)
	}
	v := make([]byte, 1+s2.MaxEncodedLen(len(raw)))
	v[0] = formatS2
	n := len(s2.Encode(v[1:], raw))
	return v[: 1+n : 1+n], nil
}

func (c *codec) decode(v []byte) (*pb.StoredReport, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("empty report value")
	}
	var raw []byte
	var err error
	switch v[0] {
	case formatS2:
		if raw, err = s2.Decode(nil, v[1:]); err != nil {
			return nil, fmt.Errorf("decompress report (s2): %w", err)
		}
	case zstdMagic0:
		if raw, err = c.dec.DecodeAll(v, nil); err != nil {
			return nil, fmt.Errorf("decompress report (zstd): %w", err)
		}
	default:
		return nil, fmt.Errorf("report value of unknown format 0x%02x", v[0])
	}
	sr := &pb.StoredReport{}
	if err := proto.Unmarshal(raw, sr); err != nil {
		return nil, fmt.Errorf("unmarshal report: %w", err)
	}
	return sr, nil
}
