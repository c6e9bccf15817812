package journal

// ring keeps the latest capacity values added, oldest first. It is not safe
// for concurrent use; Journal guards it.
type ring[T any] struct {
	capacity int
	items    []T // grows to capacity, then wraps
	start    int // index of the oldest value once items is full
	dropped  int // values dropped to make room
}

// add appends v, dropping the oldest value when the ring is full.
func (r *ring[T]) add(v T) {
	if len(r.items) < r.capacity {
		r.items = append(r.items, v)
		return
	}
	r.items[r.start] = v
	r.start = (r.start + 1) % r.capacity
	r.dropped++
}

// all calls yield with each value, oldest first, until it returns false.
func (r *ring[T]) all(yield func(*T) bool) {
	for i := range r.items {
		if !yield(&r.items[(r.start+i)%len(r.items)]) {
			return
		}
	}
}

// reset empties the ring and zeroes the dropped count.
func (r *ring[T]) reset() { r.items, r.start, r.dropped = nil, 0, 0 }
