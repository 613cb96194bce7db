package attr

// The reflection codec, for tests that compare the hand-written one to it.
var (
	MarshalReflect   = List.marshalReflect
	UnmarshalReflect = unmarshalReflect
)
