//! The order store: a node's paid orders, in memory and bounded, and its order and
//! payment ids. Plain data, held behind one lock by the node's state; the shop's handlers
//! reach it through the state, so the state and the shop need nothing of each other.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

/// An accepted order.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    /// Unique per node.
    pub id: u64,
    /// What was bought.
    pub product_id: u32,
    /// How many.
    pub quantity: u32,
    /// What was charged.
    pub total_cents: u64,
    /// The payment that settled it.
    pub payment_id: u64,
    /// Always `paid`: unpaid orders are refused.
    pub status: &'static str,
}

/// Orders in memory, the oldest evicted beyond the capacity.
#[derive(Debug)]
pub struct OrderStore {
    orders: HashMap<u64, Order>,
    order: VecDeque<u64>,
    capacity: usize,
    next_order: u64,
    next_payment: u64,
}

impl OrderStore {
    /// An empty store holding at most `capacity` orders.
    pub fn new(capacity: usize) -> Self {
        Self {
            orders: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            next_order: 0,
            next_payment: 0,
        }
    }

    /// Orders held now.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// A fresh payment id.
    pub fn payment_id(&mut self) -> u64 {
        self.next_payment += 1;
        self.next_payment
    }

    /// Stores a paid order, evicting the oldest beyond capacity.
    pub fn insert(&mut self, product_id: u32, quantity: u32, total_cents: u64, payment_id: u64) -> Order {
        self.next_order += 1;
        let order =
            Order { id: self.next_order, product_id, quantity, total_cents, payment_id, status: "paid" };
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.orders.remove(&oldest);
        }
        self.order.push_back(order.id);
        self.orders.insert(order.id, order.clone());
        order
    }

    /// The id of the newest order (0 before the first).
    pub fn last_id(&self) -> u64 {
        self.next_order
    }

    /// An order, if still held.
    pub fn get(&self, id: u64) -> Option<&Order> {
        self.orders.get(&id)
    }
}
