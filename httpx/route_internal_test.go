package httpx

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Each route names the Manager's fields with its own request's field map:
// the map names fields of that request, and a route whose request has
// no fields has none. The room list once passed the participant routes'
// map, which would have named fields it has not.
func TestRouteFieldMaps(t *testing.T) {
	for _, rt := range []struct {
		pattern string
		fields  fieldNames
		req     reflect.Type
		params  []string // the path's or query's
	}{
		{tokenRoute.pattern, tokenRoute.fields, reflect.TypeFor[TokenRequest](), nil},
		{listRoomsRoute.pattern, listRoomsRoute.fields, nil, nil},
		{roomRoute.pattern, roomRoute.fields, nil, []string{"room_name"}},
		{deleteRoomRoute.pattern, deleteRoomRoute.fields, nil, []string{"room_name"}},
		{removeRoute.pattern, removeRoute.fields, reflect.TypeFor[ParticipantRequest](), nil},
		{muteRoute.pattern, muteRoute.fields, reflect.TypeFor[MuteRequest](), nil},
		{unbanRoute.pattern, unbanRoute.fields, reflect.TypeFor[UnbanRequest](), nil},
		{inviteRoute.pattern, inviteRoute.fields, reflect.TypeFor[InviteRequest](), nil},
		{roomAuthRoute.pattern, roomAuthRoute.fields, reflect.TypeFor[RoomAuthRequest](), nil},
		{admitRoute.pattern, admitRoute.fields, reflect.TypeFor[AdmitRequest](), nil},
		{waitingRoute.pattern, waitingRoute.fields, nil, []string{"roomId"}},
		{callRoute.pattern, callRoute.fields, reflect.TypeFor[CallRequest](), nil},
		{transferRoute.pattern, transferRoute.fields, reflect.TypeFor[TransferRequest](), nil},
	} {
		names := append(jsonNames(rt.req, ""), rt.params...)
		if len(names) == 0 {
			if len(rt.fields) != 0 {
				t.Errorf("%s has no request fields, but a field map naming %v", rt.pattern, rt.fields)
			}
			continue
		}
		if !slices.ContainsFunc(names, func(n string) bool { return slices.Contains(slices.Collect(maps.Values(rt.fields)), n) }) {
			t.Errorf("%s: its field map %v names none of its request's fields %v", rt.pattern, rt.fields, names)
		}
	}
}

// jsonNames lists the JSON names of t's fields, nested ones dotted.
func jsonNames(t reflect.Type, prefix string) []string {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, prefix+name)
		names = append(names, jsonNames(f.Type, prefix+name+".")...)
	}
	return names
}
