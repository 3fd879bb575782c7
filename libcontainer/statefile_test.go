package libcontainer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveStateDir(t *testing.T) {
	root := t.TempDir()
	for _, extra := range []string{"", "other-file"} {
		dir := filepath.Join(root, "c"+extra)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{stateFile, configFile, extra} {
			if name != "" {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := removeStateDir(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists (%v)", dir, err)
		}
		if err := removeStateDir(dir); err != nil {
			t.Errorf("removing it again: %v", err)
		}
	}
}
