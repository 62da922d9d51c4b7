package forward

import (
	"encoding/json"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lkgate/lkgate"
)

// reservedPrefix starts the participant attributes and room metadata keys
// that only lkgate sets ([lkgate.TenantAttribute] and its siblings).
const reservedPrefix = "lkgate."

// ForTenant returns the event as ev.Tenant may see it, and false for an
// event no tenant may receive: one whose room resolved to no tenant, or
// one of a guest's lobby (lkgate's own rooms). The copy names the room by
// ev.Room wherever LiveKit's event names it (the room, egress and ingress
// requests and infos, any string field equal to LiveKit's name), and
// carries no [lkgate.OwnerKey] or "lkgate." key in the room's metadata,
// no TURN password of LiveKit's and no "lkgate." participant attribute. ev.Event is not modified.
func ForTenant(ev lkgate.WebhookEvent) (*livekit.WebhookEvent, bool) {
	if ev.Tenant == "" || ev.Event == nil || ev.Room == "" || strings.HasPrefix(ev.Room, lkgate.LobbyPrefix) {
		return nil, false
	}
	out := proto.CloneOf(ev.Event)
	if name := liveKitRoom(out); name != "" && name != ev.Room {
		renameRoom(out.ProtoReflect(), name, ev.Room)
	}
	if r := out.GetRoom(); r != nil {
		r.Metadata = withoutReservedKeys(r.GetMetadata())
		// LiveKit v1.8.4 still fills this deprecated field: a credential
		// of its TURN server.
		r.TurnPassword = ""
	}
	if p := out.GetParticipant(); p != nil {
		for k := range p.GetAttributes() {
			if strings.HasPrefix(k, reservedPrefix) {
				delete(p.Attributes, k)
			}
		}
	}
	return out, true
}

// liveKitRoom is the LiveKit name of ev's room, found where
// [lkgate.Manager.ResolveWebhook] finds it.
func liveKitRoom(ev *livekit.WebhookEvent) string {
	switch {
	case ev.GetRoom().GetName() != "":
		return ev.GetRoom().GetName()
	case ev.GetEgressInfo() != nil:
		return ev.GetEgressInfo().GetRoomName()
	case ev.GetIngressInfo() != nil:
		return ev.GetIngressInfo().GetRoomName()
	}
	return ""
}

// renameRoom sets every string field of m (nested messages, lists and map
// values included) that equals from to to. Walking every field rather than
// a list of known ones keeps a field LiveKit adds later from carrying the
// LiveKit name to a tenant. Strings that merely contain the name (an
// egress file's location built from a {room_name} template) are left as
// they are: they locate the host's storage.
func renameRoom(m protoreflect.Message, from, to string) {
	// Fields are set after the walk: protoreflect leaves mutation during
	// Range undefined.
	var rename []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		message := fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				if message {
					renameRoom(l.Get(i).Message(), from, to)
				} else if fd.Kind() == protoreflect.StringKind && l.Get(i).String() == from {
					l.Set(i, protoreflect.ValueOfString(to))
				}
			}
		case fd.IsMap():
			mv, vd := v.Map(), fd.MapValue()
			var keys []protoreflect.MapKey
			mv.Range(func(k protoreflect.MapKey, e protoreflect.Value) bool {
				switch vd.Kind() {
				case protoreflect.StringKind:
					if e.String() == from {
						keys = append(keys, k)
					}
				case protoreflect.MessageKind, protoreflect.GroupKind:
					renameRoom(e.Message(), from, to)
				}
				return true
			})
			for _, k := range keys {
				mv.Set(k, protoreflect.ValueOfString(to))
			}
		case message:
			renameRoom(v.Message(), from, to)
		case fd.Kind() == protoreflect.StringKind && v.String() == from:
			rename = append(rename, fd)
		}
		return true
	})
	for _, fd := range rename {
		m.Set(fd, protoreflect.ValueOfString(to))
	}
}

// withoutReservedKeys removes [lkgate.OwnerKey] and "lkgate." keys from
// room metadata that is a JSON object; other metadata is the host's and
// kept as it is.
func withoutReservedKeys(metadata string) string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(metadata), &fields); err != nil || fields == nil {
		return metadata
	}
	n := len(fields)
	for k := range fields {
		if k == lkgate.OwnerKey || strings.HasPrefix(k, reservedPrefix) {
			delete(fields, k)
		}
	}
	if len(fields) == n {
		return metadata
	}
	if len(fields) == 0 {
		return ""
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return ""
	}
	return string(out)
}
