package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/virtkey/virtkey/authenticator"
)

// faultList is the value of serve --fault: fault names, comma-separated,
// the flag given once or more (authenticator.Config.Faults).
type faultList []authenticator.Fault

func (l *faultList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, f := range *l {
		s[i] = string(f)
	}
	return strings.Join(s, ",")
}

func (l *faultList) Set(v string) error {
	fs, err := authenticator.ParseFaults(v)
	if err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "authenticator: "))
	}
	*l = append(*l, fs...)
	return nil
}

// listFaults is `virtkey faults`: every named fault serve --fault takes,
// with its family, what the faulty key does and the spec section it
// breaks.
func listFaults(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "virtkey: faults takes no arguments")
		return 2
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tFAMILY\tSECTION\tWHAT THE KEY DOES")
	for _, f := range authenticator.Faults() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Family, f.Section, f.Description)
	}
	tw.Flush()
	return 0
}
