package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/cdcbench/cdcbench/internal/jvm"
)

// embeddedProject is a path's Java program, embedded under dir of files,
// as a jvm.Project whose cache key is keyPrefix and a hash of every byte
// of the project: a changed program is built afresh (Maven's own
// repository keeps the jars), and the versions the pom pins are named in
// the key for whoever lists the cache.
func embeddedProject(files fs.FS, dir, name, keyPrefix, size string) jvm.Project {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err)
	}
	h := sha256.New()
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		panic(err)
	}
	return jvm.Project{
		Name: name, Key: keyPrefix + "-" + hex.EncodeToString(h.Sum(nil))[:12],
		Files: sub, Pom: "pom.xml", Jars: []string{"app", "lib"}, Size: size,
	}
}
