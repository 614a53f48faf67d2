// Renders an External Secrets "v2" template the way the operator does: Go text/template with the
// sprig function map (less env and expandenv, which the operator removes), the remote secret's
// keys as string data. Reads the template from argv[1] and a JSON object of key -> value on
// stdin; writes the rendered value to stdout. Test tool of the real-software suite only.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: esotemplate TEMPLATE_FILE < data.json")
		os.Exit(2)
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	data := map[string]string{}
	if err := json.NewDecoder(os.Stdin).Decode(&data); err != nil {
		fmt.Fprintln(os.Stderr, "data:", err)
		os.Exit(2)
	}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	t, err := template.New("t").Option("missingkey=error").Funcs(funcs).Parse(string(src))
	if err != nil {
		fmt.Fprintln(os.Stderr, "parse:", err)
		os.Exit(1)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, data); err != nil {
		fmt.Fprintln(os.Stderr, "execute:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out.Bytes())
}
