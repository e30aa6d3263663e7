package all

import "reflect"

// fmtType is the import path and name of v's type, like "…/catalog/dpkg.Cataloger".
func fmtType(v any) string {
	t := reflect.TypeOf(v)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() + "." + t.Name()
}
