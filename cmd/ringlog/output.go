package main

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// formatHelp describes the event output formats, for the --format flags.
const formatHelp = "output `format`: text (id, length and Go-quoted bytes, tab-separated), hex (a hex dump per event), " +
	"json (one object per line: {\"id\":..,\"len\":..,\"data\":\"<base64>\"}) or raw (each event as a uvarint length " +
	"and its bytes: what append --framed reads)"

// eventWriter writes events to a buffered stream in one of the output formats.
type eventWriter struct {
	w      *bufio.Writer
	format string
	buf    []byte
}

// newEventWriter returns a writer for format, or a usage error naming it.
func newEventWriter(w *bufio.Writer, format string) (*eventWriter, error) {
	switch format {
	case "text", "hex", "json", "raw":
		return &eventWriter{w: w, format: format}, nil
	}
	return nil, usagef("--format %q: want text, hex, json or raw", format)
}

// jsonEvent is one line of the json format.
type jsonEvent struct {
	ID   uint64 `json:"id"`
	Len  int    `json:"len"`
	Data string `json:"data"`
}

// write writes event id with its bytes data.
func (ew *eventWriter) write(id uint64, data []byte) error {
	b := ew.buf[:0]
	switch ew.format {
	case "text":
		b = strconv.AppendUint(b, id, 10)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(len(data)), 10)
		b = append(b, '\t')
		b = strconv.AppendQuote(b, string(data))
		b = append(b, '\n')
	case "hex":
		b = append(b, "event "...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(len(data)), 10)
		b = append(b, " bytes)\n"...)
		b = append(b, hex.Dump(data)...)
	case "json":
		line, err := json.Marshal(jsonEvent{ID: id, Len: len(data), Data: base64.StdEncoding.EncodeToString(data)})
		if err != nil {
			return err
		}
		b = append(append(b, line...), '\n')
	case "raw":
		b = binary.AppendUvarint(b, uint64(len(data)))
		b = append(b, data...)
	}
	ew.buf = b
	_, err := ew.w.Write(b)
	return err
}
