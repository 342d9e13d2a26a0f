// Package testvectors embeds the project's known-answer vectors. A vector is
// a text file with a small header of "key: value" lines (source, comment,
// expect, and whatever the group needs), a blank line, and a body. Vectors
// seed the fuzz targets of the packages whose parsers they exercise.
package testvectors

import (
	"bufio"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed */*.txt
var files embed.FS

// Vector is one known-answer vector.
type Vector struct {
	// Name is the file name without the group and the .txt suffix.
	Name string
	// Header holds the "key: value" lines before the first blank line.
	Header map[string]string
	// Lines are the body lines, trimmed, without blanks and # comments.
	Lines []string
}

// Source is where the vector came from; every vector names one.
func (v Vector) Source() string { return v.Header["source"] }

// Expect is the expected result, such as "ok" or a status name.
func (v Vector) Expect() string { return v.Header["expect"] }

// Hex decodes every body line that has no direction prefix as hex and
// returns the concatenation.
func (v Vector) Hex() ([]byte, error) {
	var out []byte
	for _, l := range v.Lines {
		b, err := hex.DecodeString(strings.Join(strings.Fields(l), ""))
		if err != nil {
			return nil, fmt.Errorf("testvectors: %s: %v", v.Name, err)
		}
		out = append(out, b...)
	}
	return out, nil
}

// Load reads every vector of a group (a folder of testvectors/), sorted by name.
func Load(group string) ([]Vector, error) {
	names, err := fs.Glob(files, path.Join(group, "*.txt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []Vector
	for _, n := range names {
		data, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		v, err := parse(strings.TrimSuffix(path.Base(n), ".txt"), string(data))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("testvectors: no vectors in group %q", group)
	}
	return out, nil
}

func parse(name, text string) (Vector, error) {
	v := Vector{Name: name, Header: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inHeader := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if inHeader {
			if line == "" {
				inHeader = false
				continue
			}
			k, val, ok := strings.Cut(line, ":")
			if !ok {
				return v, fmt.Errorf("testvectors: %s: header line %q has no colon", name, line)
			}
			v.Header[strings.TrimSpace(k)] = strings.TrimSpace(val)
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v.Lines = append(v.Lines, line)
	}
	if v.Source() == "" {
		return v, fmt.Errorf("testvectors: %s names no source", name)
	}
	return v, sc.Err()
}
