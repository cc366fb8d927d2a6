package main

import (
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"
)

// printListJSON prints a list response whose only field is the list: an
// empty list is {"FIELD": []}, not the {} protojson writes, so scripts can
// read the field without testing for it.
func printListJSON(w io.Writer, m proto.Message, field string, n int) error {
	if n > 0 {
		return printJSON(w, m)
	}
	_, err := fmt.Fprintf(w, "{\n  %q: []\n}\n", field)
	return err
}
