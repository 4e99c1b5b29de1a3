// Command kubec2-bench-informer is the client-go side of bench_informer_sync:
// a dynamic (unstructured) shared informer on one resource in one namespace,
// measuring the wall time from start to HasSynced and the process's RSS.
//
// It is built against the vendor/ folder of the Kubernetes v1.20.2 source tree
// that hack/control-plane-binaries.sh caches (client-go v0.20.2); hack/bench.sh
// copies this file into that tree and builds it there.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/clientcmd"
)

// procStatus returns VmRSS and VmHWM from /proc/self/status, in KiB.
func procStatus() (rss, hwm int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var v int64
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			fmt.Sscanf(strings.TrimPrefix(line, "VmRSS:"), "%d", &v)
			rss = v
		case strings.HasPrefix(line, "VmHWM:"):
			fmt.Sscanf(strings.TrimPrefix(line, "VmHWM:"), "%d", &v)
			hwm = v
		}
	}
	return rss, hwm
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	namespace := flag.String("namespace", "default", "namespace to watch")
	group := flag.String("group", "test.kubec2.io", "API group")
	version := flag.String("version", "v1", "API version")
	resource := flag.String("resource", "widgets", "resource (plural)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		os.Exit(1)
	}
	cfg.QPS = 1000
	cfg.Burst = 1000
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	gvr := schema.GroupVersionResource{Group: *group, Version: *version, Resource: *resource}

	runtime.GC()
	rssBefore, _ := procStatus()
	start := time.Now()
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, *namespace, nil)
	informer := factory.ForResource(gvr).Informer()
	stop := make(chan struct{})
	factory.Start(stop)
	deadline := time.Now().Add(*timeout)
	for !informer.HasSynced() {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "timed out waiting for the informer to sync")
			os.Exit(1)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	rssAfter, hwm := procStatus()
	objects := len(informer.GetStore().ListKeys())
	// The figure after a forced collection: what the cache itself holds.
	runtime.GC()
	rssGC, _ := procStatus()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	close(stop)
	fmt.Printf("impl=client-go objects=%d sync_ms=%.1f rss_before_kb=%d rss_after_kb=%d hwm_kb=%d "+
		"rss_after_gc_kb=%d heap_inuse_kb=%d\n",
		objects, float64(elapsed.Microseconds())/1000.0, rssBefore, rssAfter, hwm, rssGC,
		ms.HeapInuse/1024)
}
