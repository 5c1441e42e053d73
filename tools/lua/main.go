// luacheck-health runs Argo CD resource health checks (health.lua) in gopher-lua, the
// Lua runtime Argo CD embeds, the way Argo CD calls them, over every case of each
// health_test.yaml beside them. Test tooling only; never part of the product.
//
//	luacheck-health DIR...
//
// DIR is an Argo CD resource_customizations tree: DIR/<group>/<Kind>/health.lua,
// health_test.yaml and the objects the test cases name (inputPath, relative to the
// Kind's folder). Exits 1 on the first mismatch report (after running every case).
//
// The call follows Argo CD's util/lua: a fresh LState per call with no standard
// libraries except the ones opened explicitly (base, table, string here), a 1 s
// context timeout, the object decoded from JSON into nested tables and set as the
// global `obj`, and the script's returned table read as {status, message}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

// HealthStatus is what a health.lua returns.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type testCase struct {
	HealthStatus HealthStatus `json:"healthStatus"`
	InputPath    string       `json:"inputPath"`
}

type testFile struct {
	Tests []testCase `json:"tests"`
}

// The statuses Argo CD accepts from a health script.
var validStatus = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

// decodeValue turns a JSON-decoded value into a Lua value as Argo CD does.
func decodeValue(L *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case []any:
		arr := L.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(L, item))
		}
		return arr
	case map[string]any:
		tbl := L.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(L, item))
		}
		return tbl
	}
	return lua.LNil
}

// RunHealth runs one script on one object.
func RunHealth(script string, obj map[string]any) (HealthStatus, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", decodeValue(L, obj))
	if err := L.DoString(script); err != nil {
		return HealthStatus{}, err
	}
	ret := L.Get(-1)
	tbl, ok := ret.(*lua.LTable)
	if !ok {
		return HealthStatus{}, fmt.Errorf("script returned %s, not a table", ret.Type())
	}
	var hs HealthStatus
	if s, ok := tbl.RawGetString("status").(lua.LString); ok {
		hs.Status = string(s)
	}
	if m, ok := tbl.RawGetString("message").(lua.LString); ok {
		hs.Message = string(m)
	}
	if !validStatus[hs.Status] {
		return hs, fmt.Errorf("status %q is not one Argo CD accepts", hs.Status)
	}
	return hs, nil
}

func readYAML(path string, into any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, into)
}

// CheckKind runs every case of one Kind folder; it returns one line per case and the
// failures.
func CheckKind(dir string) (lines []string, failures []string, err error) {
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		return nil, nil, err
	}
	var tf testFile
	if err := readYAML(filepath.Join(dir, "health_test.yaml"), &tf); err != nil {
		return nil, nil, err
	}
	if len(tf.Tests) == 0 {
		return nil, nil, fmt.Errorf("%s: health_test.yaml has no tests", dir)
	}
	for _, tc := range tf.Tests {
		var obj map[string]any
		name := filepath.Join(dir, tc.InputPath)
		if err := readYAML(name, &obj); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		got, err := RunHealth(string(script), obj)
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: error: %v", name, err))
		case got != tc.HealthStatus:
			want, _ := json.Marshal(tc.HealthStatus)
			have, _ := json.Marshal(got)
			failures = append(failures, fmt.Sprintf("%s:\n    want %s\n    got  %s", name, want, have))
		default:
			lines = append(lines, fmt.Sprintf("ok   %-11s %s", got.Status, name))
		}
	}
	return lines, failures, nil
}

// KindDirs finds every folder holding a health.lua under root.
func KindDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "health.lua" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	sort.Strings(dirs)
	if err == nil && len(dirs) == 0 {
		err = errors.New(root + ": no health.lua found")
	}
	return dirs, err
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: luacheck-health DIR...")
		os.Exit(2)
	}
	cases, failed := 0, 0
	for _, root := range os.Args[1:] {
		dirs, err := KindDirs(root)
		if err != nil {
			fmt.Fprintln(os.Stderr, "luacheck-health:", err)
			os.Exit(2)
		}
		for _, dir := range dirs {
			lines, failures, err := CheckKind(dir)
			if err != nil {
				fmt.Fprintln(os.Stderr, "luacheck-health:", err)
				os.Exit(2)
			}
			for _, l := range lines {
				fmt.Println(l)
			}
			for _, f := range failures {
				fmt.Println("FAIL", f)
			}
			cases += len(lines) + len(failures)
			failed += len(failures)
		}
	}
	if failed > 0 {
		fmt.Printf("luacheck-health: %d of %d cases FAILED\n", failed, cases)
		os.Exit(1)
	}
	fmt.Printf("luacheck-health: %d cases passed\n", cases)
}
