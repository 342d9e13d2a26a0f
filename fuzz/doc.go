// Package fuzz holds fuzz targets that cross packages: arbitrary HID
// reports into a whole virtual key (CTAPHID framing and the command core
// together). Per-parser targets live next to their parsers.
package fuzz
