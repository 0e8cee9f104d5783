// Command auditcheck is a strict schema check for Portcullis' EventList
// export: it decodes stdin into the real Kubernetes type
// (k8s.io/apiserver/pkg/apis/audit/v1.EventList) refusing unknown fields,
// then checks what the type marks required. It prints "ok N events" and
// exits 0, or prints the first problem and exits 1.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

func main() {
	n, err := check(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auditcheck:", err)
		os.Exit(1)
	}
	fmt.Printf("ok %d events\n", n)
}

func check(r io.Reader) (int, error) {
	decoder := json.NewDecoder(r)
	decoder.DisallowUnknownFields()
	var list auditv1.EventList
	if err := decoder.Decode(&list); err != nil {
		return 0, fmt.Errorf("decode EventList: %w", err)
	}
	if _, err := decoder.Token(); !errors.Is(err, io.EOF) {
		return 0, errors.New("trailing data after the EventList")
	}
	if list.Kind != "EventList" || list.APIVersion != "audit.k8s.io/v1" {
		return 0, fmt.Errorf("kind/apiVersion is %q/%q, want EventList/audit.k8s.io/v1", list.Kind, list.APIVersion)
	}
	if list.Items == nil {
		return 0, errors.New("items is missing")
	}
	for i, event := range list.Items {
		if err := checkEvent(event); err != nil {
			return 0, fmt.Errorf("items[%d] (auditID %q): %w", i, event.AuditID, err)
		}
	}
	return len(list.Items), nil
}

func checkEvent(e auditv1.Event) error {
	switch e.Level {
	case auditv1.LevelMetadata, auditv1.LevelRequest, auditv1.LevelRequestResponse:
	default:
		return fmt.Errorf("level %q is not Metadata, Request or RequestResponse", e.Level)
	}
	switch e.Stage {
	case auditv1.StageRequestReceived, auditv1.StageResponseStarted, auditv1.StageResponseComplete, auditv1.StagePanic:
	default:
		return fmt.Errorf("stage %q is not a known stage", e.Stage)
	}
	required := map[string]string{
		"auditID":       string(e.AuditID),
		"requestURI":    e.RequestURI,
		"verb":          e.Verb,
		"user.username": e.User.Username,
	}
	for field, value := range required {
		if value == "" {
			return fmt.Errorf("%s is empty", field)
		}
	}
	// MicroTime's decoder already refused anything but RFC 3339 with six fractional digits.
	if e.RequestReceivedTimestamp.IsZero() || e.StageTimestamp.IsZero() {
		return errors.New("requestReceivedTimestamp and stageTimestamp are required")
	}
	if e.StageTimestamp.Before(&e.RequestReceivedTimestamp) {
		return errors.New("stageTimestamp is before requestReceivedTimestamp")
	}
	if e.Stage == auditv1.StageResponseComplete && (e.ResponseStatus == nil || e.ResponseStatus.Code == 0) {
		return errors.New("a ResponseComplete event needs responseStatus.code")
	}
	if e.Level == auditv1.LevelMetadata && (e.RequestObject != nil || e.ResponseObject != nil) {
		return errors.New("a Metadata event carries a request or response object")
	}
	if e.Level == auditv1.LevelRequest && e.ResponseObject != nil {
		return errors.New("a Request-level event carries a response object")
	}
	return nil
}
