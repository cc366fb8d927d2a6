package store

import (
	"runtime"
	"strconv"
	"testing"
)

func TestDefaultMmapSize(t *testing.T) {
	if runtime.GOOS == "windows" || strconv.IntSize < 64 {
		if got := defaultMmapSize(1 << 20); got != 0 {
			t.Fatalf("defaultMmapSize on %s/%d-bit = %d, want 0 (bbolt's own growth)", runtime.GOOS, strconv.IntSize, got)
		}
		return
	}
	tests := []struct {
		name     string
		fileSize int64
		want     int64
	}{
		{"a new store", 0, 64 << 30},
		{"a small store", 10 << 30, 64 << 30},
		{"half the minimum", 32 << 30, 64 << 30},
		{"past half the minimum: twice the file", 40 << 30, 80 << 30},
		{"a large store", 700 << 30, 1400 << 30},
	}
	for _, tt := range tests {
		if got := int64(defaultMmapSize(tt.fileSize)); got != tt.want {
			t.Errorf("%s: defaultMmapSize(%d) = %d, want %d", tt.name, tt.fileSize, got, tt.want)
		}
	}
}
