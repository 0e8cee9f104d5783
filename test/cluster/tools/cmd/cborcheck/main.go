// Command cborcheck proves that Portcullis' CBOR output is what a Kubernetes
// client can read, using k8s.io/apimachinery's own CBOR serializer (the one
// client-go and kube-apiserver use), strict about unknown fields.
//
//	cborcheck object   stdin is one CBOR data item (application/cbor). It is
//	                   decoded into unstructured.Unstructured (or
//	                   UnstructuredList) and, when client-go's scheme knows
//	                   its kind, into the typed object too, as a typed client
//	                   would. Prints the object as JSON.
//	cborcheck watch    stdin is a CBOR Sequence of watch events
//	                   (application/cbor-seq). Each frame is decoded into
//	                   metav1.WatchEvent and its object as above, as client-go's
//	                   watch decoder does. Prints one {"type","object"} JSON
//	                   line per event.
//	cborcheck encode   stdin is a JSON object; prints the bytes the apiserver's
//	                   serializer writes for it (deterministic mode), the
//	                   reference Portcullis' encoder is compared with.
//	cborcheck encode-watch
//	                   stdin is JSON watch events, one a line; prints the
//	                   CBOR Sequence the apiserver's watch encoder writes for
//	                   them (in deterministic mode).
//
// It exits 1 and prints the problem on the first failure.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor"
	"k8s.io/apimachinery/pkg/runtime/serializer/streaming"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

func main() {
	if len(os.Args) != 2 {
		fail(errors.New("usage: cborcheck object|watch|encode|encode-watch"))
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fail(err)
	}
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		fail(err)
	}
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	strict := cbor.NewSerializer(scheme, scheme, cbor.Strict(true))

	var err error
	switch os.Args[1] {
	case "object":
		err = checkObject(strict)
	case "watch":
		err = checkWatch(scheme, strict)
	case "encode":
		err = encode(strict)
	case "encode-watch":
		err = encodeWatch(scheme)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cborcheck:", err)
	os.Exit(1)
}

func checkObject(strict cbor.Serializer) error {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	content, err := decodeObject(strict, data)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(content)
}

// decodeObject decodes one encoded object the way a dynamic client would and,
// for kinds client-go knows, the way a typed client would.
func decodeObject(strict cbor.Serializer, data []byte) (map[string]any, error) {
	if ok, _, _ := strict.RecognizesData(data); !ok {
		return nil, errors.New("missing the self-described CBOR prefix d9d9f7")
	}
	var into runtime.Unstructured = &unstructured.Unstructured{}
	if isList(data) {
		into = &unstructured.UnstructuredList{}
	}
	if _, _, err := strict.Decode(data, nil, into); err != nil {
		return nil, fmt.Errorf("decode into %T: %w", into, err)
	}
	typed, _, err := strict.Decode(data, nil, nil)
	if err != nil && !runtime.IsNotRegisteredError(err) {
		return nil, fmt.Errorf("decode into the typed object: %w", err)
	}
	if typed != nil {
		if _, isUnstructured := typed.(runtime.Unstructured); isUnstructured {
			return nil, fmt.Errorf("typed decode produced %T", typed)
		}
	}
	return into.UnstructuredContent(), nil
}

// isList reports whether the item is a map with an "items" key, the shape
// the dynamic client decodes into UnstructuredList.
func isList(data []byte) bool {
	probe := &unstructured.Unstructured{}
	if _, _, err := cbor.NewSerializer(nil, nil).Decode(data, nil, probe); err != nil {
		return false
	}
	_, has := probe.Object["items"]
	return has
}

func checkWatch(scheme *runtime.Scheme, strict cbor.Serializer) error {
	// As client-go does: the framer splits the CBOR Sequence into data items,
	// the stream serializer decodes each into metav1.WatchEvent, and the
	// embedded object is decoded on its own.
	stream := cbor.NewSerializer(scheme, scheme, cbor.Transcode(false), cbor.Strict(true))
	frames := cbor.NewFramer().NewFrameReader(io.NopCloser(bufio.NewReader(os.Stdin)))
	decoder := streaming.NewDecoder(frames, stream)
	out := json.NewEncoder(os.Stdout)
	for n := 0; ; n++ {
		var event metav1.WatchEvent
		got, _, err := decoder.Decode(nil, &event)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("event %d: decode WatchEvent: %w", n, err)
		}
		if got != &event {
			return fmt.Errorf("event %d: decoded %T, not a WatchEvent", n, got)
		}
		switch event.Type {
		case "ADDED", "MODIFIED", "DELETED", "ERROR", "BOOKMARK":
		default:
			return fmt.Errorf("event %d: invalid type %q", n, event.Type)
		}
		object, err := decodeObject(strict, event.Object.Raw)
		if err != nil {
			return fmt.Errorf("event %d: object: %w", n, err)
		}
		if err := out.Encode(map[string]any{"type": event.Type, "object": object}); err != nil {
			return err
		}
	}
}

func encode(serializer cbor.Serializer) error {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	encoded, err := encodeJSON(serializer, data)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(encoded)
	return err
}

// encodeJSON is the apiserver's path for a custom resource: JSON into
// Unstructured, then the CBOR serializer.
func encodeJSON(serializer cbor.Serializer, data []byte) ([]byte, error) {
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, data)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := serializer.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeWatch mirrors the apiserver's watchEncoder: the object is encoded on
// its own, wrapped in a metav1.WatchEvent as raw bytes, and the event encoded
// by the stream serializer into the CBOR Sequence framer.
func encodeWatch(scheme *runtime.Scheme) error {
	embedded := cbor.NewSerializer(scheme, scheme)
	stream := cbor.NewSerializer(scheme, scheme, cbor.Transcode(false))
	frames := cbor.NewFramer().NewFrameWriter(os.Stdout)
	lines := bufio.NewScanner(os.Stdin)
	lines.Buffer(make([]byte, 1<<20), 64<<20)
	for lines.Scan() {
		var event struct {
			Type   string          `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := json.Unmarshal(lines.Bytes(), &event); err != nil {
			return err
		}
		raw, err := encodeJSON(embedded, event.Object)
		if err != nil {
			return err
		}
		out := &metav1.WatchEvent{Type: event.Type, Object: runtime.RawExtension{Raw: raw}}
		if err := stream.Encode(out, frames); err != nil {
			return err
		}
	}
	return lines.Err()
}
