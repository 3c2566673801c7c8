package dashboard

import (
	"bytes"
	"html"

	"github.com/russross/blackfriday/v2"
)

// reportHTML renders a run's markdown report as a page whose relative
// links (the charts in REPORT.files/) resolve under base, where the run's
// directory is served. blackfriday is the renderer urfave/cli already
// links for its manual pages; its common extensions include the tables
// the report is made of.
func reportHTML(dir, base string, md []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><base href="` + html.EscapeString(base) + `">`)
	b.WriteString(`<title>cdcbench report: ` + html.EscapeString(dir) + `</title>`)
	b.WriteString(`<style>body{font:14px system-ui,sans-serif;max-width:80em;margin:1em auto;padding:0 1em}` +
		`table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}</style></head><body>`)
	b.Write(blackfriday.Run(md))
	b.WriteString(`</body></html>`)
	return b.Bytes()
}
