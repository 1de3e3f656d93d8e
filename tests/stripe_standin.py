"""A local stand-in for the few Stripe endpoints CourseHub uses, for tests without the internet.

The real ``stripe`` library talks to it over HTTP (``COURSEHUB_STRIPE_API_BASE``):

- ``POST /v1/checkout/sessions`` and ``GET /v1/checkout/sessions/<id>``
  (``expand[]=payment_intent`` gives the intent's status);
- ``POST /v1/refunds`` (``payment_intent``; honours ``Idempotency-Key``; a second refund of
  one payment is refused with Stripe's ``charge_already_refunded``);
- ``GET/POST /checkout/<id>``: the hosted checkout page (with a Back link to ``cancel_url``).
  Submitting it (email, an optional promotion code) completes the session, sends a signed
  ``checkout.session.completed`` webhook and redirects to the session's ``success_url``; a
  refund sends ``charge.refunded``.

Webhooks are signed exactly as Stripe signs them: ``Stripe-Signature: t=<unix time>,
v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint secret>``. With ``hold_webhooks`` the
stand-in keeps them in ``held`` instead of sending them, so a test can deliver them late,
twice, or before the buyer returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import ClientSession, web


def sign(secret: str, payload: bytes, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) as nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                node[part if isinstance(node, dict) else int(part)] = value
                break
            child: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                node[index] = node[index] if node[index] is not None else child
                node = node[index]
            else:
                node = node.setdefault(part, child)
    return root


def _error(status: int, message: str, code: str = "") -> web.Response:
    error = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    return web.json_response({"error": error}, status=status)


@dataclass
class StripeStandIn:
    api_key: str
    webhook_secret: str
    webhook_url: str = ""
    hold_webhooks: bool = False
    # Seconds between a payment and its webhook (0: sent before the buyer is redirected).
    webhook_delay: float = 0.0
    # code -> {"percent_off": n} or {"amount_off": cents}
    promotion_codes: dict[str, dict[str, int]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    held: list[bytes] = field(default_factory=list)
    sent: list[tuple[bytes, int]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # PaymentIntent id -> its status, for sessions settled by ``settle`` (else "succeeded")
    intent_statuses: dict[str, str] = field(default_factory=dict)
    _refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    _idempotent: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_url: str = ""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # -- running ---------------------------------------------------------------------------

    def start(self) -> str:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="stripe-standin", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.base_url

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get_session)
        app.router.add_post("/v1/refunds", self._create_refund)
        app.router.add_get("/checkout/{id}", self._checkout_page)
        app.router.add_post("/checkout/{id}", self._pay)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # -- webhooks ----------------------------------------------------------------------------

    def event(self, kind: str, obj: dict[str, Any]) -> bytes:
        body = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": kind,
            "data": {"object": obj},
        }
        return json.dumps(body).encode()

    def deliver(self, payload: bytes, timestamp: int | None = None) -> int:
        """Send ``payload`` to the webhook address now, signed (from any thread)."""
        future = asyncio.run_coroutine_threadsafe(self._post(payload, timestamp), self._loop)
        return future.result(60)

    async def _post(self, payload: bytes, timestamp: int | None = None) -> int:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": sign(self.webhook_secret, payload, timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        async with ClientSession() as client:
            async with client.post(self.webhook_url, data=payload, headers=headers) as answer:
                self.sent.append((payload, answer.status))
                return answer.status

    async def _send(self, payload: bytes) -> None:
        if self.hold_webhooks or not self.webhook_url:
            self.held.append(payload)
            return
        if self.webhook_delay:
            task = asyncio.get_running_loop().create_task(self._post_later(payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        await self._post(payload)

    async def _post_later(self, payload: bytes) -> None:
        await asyncio.sleep(self.webhook_delay)
        await self._post(payload)

    # -- the API ---------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        self.requests.append((request.method, request.path))
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    async def _create_session(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "Invalid API Key provided.")
        params = parse_form(await request.text())
        items = params.get("line_items") or []
        if params.get("mode") != "payment" or len(items) != 1:
            return _error(400, "The stand-in takes one line item in payment mode.")
        price = items[0]["price_data"]
        amount = int(price["unit_amount"]) * int(items[0].get("quantity", 1))
        session_id = f"cs_test_{secrets.token_hex(16)}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.base_url}/checkout/{session_id}",
            "currency": price["currency"],
            "amount_subtotal": amount,
            "amount_total": amount,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "product_name": price["product_data"]["name"],
            "allow_promotion_codes": params.get("allow_promotion_codes") == "true",
            "customer_email": params.get("customer_email"),
            "customer_details": None,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "payment_intent": None,
            "discounts": [],
            "livemode": False,
            "created": int(time.time()),
        }
        self.sessions[session_id] = session
        return web.json_response(session)

    async def _get_session(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "Invalid API Key provided.")
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return _error(404, "No such checkout.session.", "resource_missing")
        expand = [value for key, value in request.query.items() if key.startswith("expand")]
        intent = session["payment_intent"]
        if "payment_intent" in expand and intent:
            status = self.intent_statuses.get(intent, "succeeded")
            intent = {"id": intent, "object": "payment_intent", "status": status}
            return web.json_response({**session, "payment_intent": intent})
        return web.json_response(session)

    async def _create_refund(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "Invalid API Key provided.")
        key = request.headers.get("Idempotency-Key", "")
        if key and key in self._idempotent:
            return web.json_response(self._idempotent[key])
        params = parse_form(await request.text())
        intent = params.get("payment_intent", "")
        paid = [s for s in self.sessions.values() if s["payment_intent"] == intent and intent]
        if not paid:
            return _error(404, f"No such payment_intent: '{intent}'", "resource_missing")
        session = paid[0]
        charge_id = f"ch_{intent.removeprefix('pi_')}"
        if intent in self._refunds:
            return _error(
                400, f"Charge {charge_id} has already been refunded.", "charge_already_refunded"
            )
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "charge": charge_id,
            "payment_intent": intent,
            "status": "succeeded",
            "created": int(time.time()),
        }
        self._refunds[intent] = refund
        if key:
            self._idempotent[key] = refund
        charge = {
            "id": charge_id,
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": session["amount_total"],
            "currency": session["currency"],
            "payment_intent": intent,
            "refunded": True,
            "status": "succeeded",
        }
        task = asyncio.get_running_loop().create_task(
            self._send(self.event("charge.refunded", charge))
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response(refund)

    # -- the hosted checkout page ------------------------------------------------------------

    def _page(self, session: dict[str, Any], problem: str = "") -> web.Response:
        title = html.escape(session["product_name"])
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        email = session.get("customer_email")
        email_field = (
            f"<p>Paying as <strong id='paying_as'>{html.escape(email)}</strong></p>"
            if email
            else "<label>Email <input type='email' name='email' id='email' required></label>"
        )
        code_field = (
            "<label>Promotion code <input name='promotion_code' id='promotion_code'></label>"
            if session["allow_promotion_codes"]
            else ""
        )
        cancel_link = (
            f"<a id='cancel_link' href='{html.escape(session['cancel_url'])}'>Back</a>"
            if session.get("cancel_url")
            else ""
        )
        problem_html = f"<p id='problem' role='alert'>{html.escape(problem)}</p>" if problem else ""
        body = (
            "<!doctype html><html><head><title>Checkout (Stripe stand-in)</title></head><body>"
            f"<h1 id='product'>{title}</h1><p id='amount'>{amount}</p>{problem_html}"
            f"<form method='post'>{email_field}<label>Card number "
            "<input name='card' id='card' value='4242 4242 4242 4242'></label>"
            f"{code_field}<button type='submit' id='pay_button'>Pay</button></form>"
            f"{cancel_link}</body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def _checkout_page(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise web.HTTPNotFound(text="No such checkout session.")
        return self._page(session)

    async def _pay(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise web.HTTPNotFound(text="No such checkout session.")
        if session["status"] == "complete":
            return self._page(session, "This checkout is already paid.")
        form = await request.post()
        email = session.get("customer_email") or str(form.get("email", "")).strip()
        if "@" not in email:
            return self._page(session, "Enter your email address.")
        code = str(form.get("promotion_code", "")).strip()
        discount = 0
        if code:
            offer = self.promotion_codes.get(code.upper())
            if offer is None or not session["allow_promotion_codes"]:
                return self._page(session, "This code is invalid.")
            subtotal = session["amount_subtotal"]
            discount = min(
                subtotal,
                offer.get("amount_off", 0) + subtotal * offer.get("percent_off", 0) // 100,
            )
            session["discounts"] = [{"coupon": f"coupon_{code.upper()}", "promotion_code": code}]
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=f"pi_{secrets.token_hex(12)}",
            amount_total=session["amount_subtotal"] - discount,
            customer_details={"email": email, "name": str(form.get("name", "")) or None},
        )
        session["total_details"]["amount_discount"] = discount
        await self._send(self.event("checkout.session.completed", session))
        target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        raise web.HTTPSeeOther(target)

    # -- for tests ---------------------------------------------------------------------------

    def settle(
        self, session_id: str, status: str, payment_status: str = "unpaid", intent: str = ""
    ) -> None:
        """Put a session where Stripe would after something the stand-in's page does not do:
        ``expired`` (abandoned), or ``complete`` and ``unpaid`` with a PaymentIntent whose
        status is ``intent`` (``processing``: a bank debit under way; ``requires_payment_method``:
        it failed)."""
        session = self.sessions[session_id]
        session.update(status=status, payment_status=payment_status)
        if intent:
            session["payment_intent"] = session["payment_intent"] or f"pi_{secrets.token_hex(12)}"
            self.intent_statuses[session["payment_intent"]] = intent

    def pay(self, session_id: str, email: str = "", code: str = "") -> None:
        """Complete a checkout as its page's form would (without a browser)."""
        import httpx

        answer = httpx.post(
            f"{self.base_url}/checkout/{session_id}",
            data={"email": email, "promotion_code": code},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
