package changeevent

// DecodeWhole decodes value without the schema cache, for tests that compare
// the two paths.
func (d *Decoder) DecodeWhole(value []byte, ev *Event) error { return d.decodeWhole(value, ev) }
