#!/usr/bin/env python3
"""Generate N realistic customer mails for postdesk's benchmark, written as
Maildir files straight into a Dovecot Maildir (see bench/run.sh).

    gen.py --maildir DIR/mail/support.test/bench-x/Maildir --n 5000 \
           --to bench-x@support.test --tag x [--seed 1]

Mix (fixed by --seed, so a run can be repeated):
  * ~70 % new mails, ~30 % replies. A reply comes from the same customer
    as the thread it answers, its subject is "Re: <first subject>", its
    In-Reply-To is an earlier message of that thread and its References
    list the thread (the first Message-ID is the customer's original mail,
    which postdesk uses to find the ticket).
  * a few hundred distinct customers cust<k>-<tag>@<domain> (--domain,
    default customer.test; --customers to choose how many).
  * bodies in utf-8 8bit, iso-8859-1 quoted-printable, windows-1252 8bit
    and utf-8 base64; RFC 2047 subjects (B and Q) in Portuguese and
    French; Content-Language pt / fr on some.
  * ~10 % multipart/mixed with a small (2-6 KB) base64 attachment,
    ~3 % HTML-only.

Files go to Maildir/tmp and are renamed into Maildir/new; names are
"<time>.M<n>P<pid>.bench" with a strictly increasing <time>, so Dovecot
gives them UIDs in generation order (an original always before its
replies). Line endings are LF, as Dovecot's own deliveries store them.

Prints one line of key=value pairs: messages, new, replies, attachments,
html, customers, bytes.
"""

import argparse
import base64
import os
import quopri
import random
import time
from email.header import Header

PT_SUBJECTS = [
    "Não consigo aceder à minha conta",
    "Pedido de reembolso da encomenda nº {n}",
    "Faturação: cobrança duplicada em março",
    "Problema com a instalação no portátil",
    "Dúvida sobre a subscrição anual",
]
FR_SUBJECTS = [
    "Impossible de me connecter à mon compte",
    "Demande de remboursement — commande n° {n}",
    "Facturation : prélèvement en double",
    "Problème d'installation après la mise à jour",
    "Question sur l'abonnement annuel (é, è, ç, à)",
]
EN_SUBJECTS = [
    "Cannot log in since this morning",
    "Invoice {n} looks wrong",
    "Feature request: export to CSV",
    "Password reset mail never arrives",
    "Order {n} not delivered yet",
    "Question about pricing tiers",
    "App crashes when opening settings",
]
PT_BODY = (
    "Bom dia,\n\nDesde ontem não consigo aceder à aplicação. Já tentei "
    "reiniciar o computador e limpar a cache do navegador, mas a mensagem "
    "de erro continua a aparecer. Poderiam ajudar-me, por favor?\n\n"
    "Obrigado pela atenção,\n{name}\n"
)
FR_BODY = (
    "Bonjour,\n\nDepuis la dernière mise à jour, je ne parviens plus à "
    "ouvrir mes documents. J'ai déjà réinstallé le logiciel et vérifié "
    "les paramètres réseau, sans succès. Pourriez-vous m'aider ?\n\n"
    "Cordialement,\n{name}\n"
)
EN_BODY = (
    "Hello,\n\nSince this morning I get an error whenever I try to open my "
    "account page. I have already cleared my browser cache and tried "
    "another browser, but the problem remains. Steps to reproduce:\n\n"
    "  1. log in\n  2. open \u201cMy account\u201d\n  3. see the error\n\n"
    "Could you please have a look? Thanks \u2014 {name}\n"
)
W1252_BODY = (
    "Hello,\n\nI\u2019ve been charged \u20ac49.90 twice for order {n}. "
    "Your \u201cinstant refund\u201d page doesn\u2019t work \u2026 "
    "Please fix it.\n\nRegards,\n{name}\n"
)
REPLY_LINES = [
    "Thanks, but the problem is still there.",
    "I attach more details below.",
    "Obrigado pela resposta rápida, mas ainda não funciona.",
    "Merci pour votre réponse, le problème persiste malheureusement.",
    "Any news on this?",
]
FIRST = ["Ana", "João", "Maria", "Pierre", "Élodie", "Chloé", "Tom", "Sara",
         "Luís", "François", "Inês", "Noé", "Kim", "Olga", "Raúl"]
LAST = ["Silva", "Dupont", "Gonçalves", "Lefèvre", "Smith", "Müller",
        "Costa", "Martin", "Ferreira", "Durand"]


def enc_header(s, charset="utf-8"):
    """RFC 2047 encoded-word(s) for a header value (ASCII passes as is)."""
    try:
        s.encode("ascii")
        return s
    except UnicodeEncodeError:
        return Header(s, charset).encode()


def addr(name, email):
    return f"{enc_header(name)} <{email}>"


def text_part(rng, body):
    """(headers, payload, codec) for a text/plain body in a random charset;
    the message is written out with `codec` (latin-1 carries the
    windows-1252 bytes as they are)."""
    kind = rng.random()
    if kind < 0.40:
        return ("Content-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n", body, "utf-8")
    if kind < 0.65:
        data = body.encode("iso-8859-1", "replace")
        qp = quopri.encodestring(data).decode("ascii")
        return ("Content-Type: text/plain; charset=iso-8859-1\n"
                "Content-Transfer-Encoding: quoted-printable\n", qp, "ascii")
    if kind < 0.80:
        data = body.encode("cp1252", "replace")
        return ("Content-Type: text/plain; charset=windows-1252\n"
                "Content-Transfer-Encoding: 8bit\n", data.decode("latin-1"), "latin-1")
    b64 = base64.encodebytes(body.encode("utf-8")).decode("ascii")
    return ("Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: base64\n", b64, "ascii")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--to", required=True, help="the support address")
    ap.add_argument("--tag", required=True, help="makes customer addresses unique to a run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domain", default="customer.test", help="the customers' domain")
    ap.add_argument("--customers", type=int, default=0,
                    help="distinct customers (default N/15, between 20 and 400)")
    a = ap.parse_args()
    rng = random.Random(a.seed)

    n_customers = a.customers or max(20, min(400, a.n // 15))
    customers = []
    for k in range(n_customers):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        customers.append((name, f"cust{k}-{a.tag}@{a.domain}"))

    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(a.maildir, sub), exist_ok=True)
    tmpdir = os.path.join(a.maildir, "tmp")
    newdir = os.path.join(a.maildir, "new")

    base = int(time.time()) - a.n - 10
    pid = os.getpid()
    threads = []  # [customer, subject, [message-ids]]
    stats = dict(messages=0, new=0, replies=0, attachments=0, html=0,
                 customers=n_customers, bytes=0)
    for i in range(a.n):
        reply = bool(threads) and rng.random() < 0.30
        mid = f"<{i}.{a.tag}.{rng.getrandbits(48):x}@mail.{a.domain}>"
        date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(base + i))
        lang = None
        if reply:
            # Mostly recent threads, sometimes an old one.
            t = threads[-rng.randint(1, min(len(threads), 400))] if rng.random() < 0.9 \
                else rng.choice(threads)
            cust, first_subject, ids = t
            subject = "Re: " + first_subject
            in_reply_to = rng.choice(ids)
            refs = ids[:1] + ids[-4:] if len(ids) > 5 else list(ids)
            quoted = "\n".join("> " + l for l in EN_BODY.format(name="x").splitlines()[:4])
            body = f"{rng.choice(REPLY_LINES)}\n\nOn earlier mail you wrote:\n{quoted}\n\n-- \n{cust[0]}\n"
            ids.append(mid)
            thread_headers = f"In-Reply-To: {in_reply_to}\nReferences: {' '.join(refs)}\n"
            stats["replies"] += 1
        else:
            cust = rng.choice(customers)
            r = rng.random()
            num = rng.randint(10000, 99999)
            if r < 0.25:
                lang, subject = "pt", rng.choice(PT_SUBJECTS).format(n=num)
                body = PT_BODY.format(name=cust[0])
            elif r < 0.45:
                lang, subject = "fr", rng.choice(FR_SUBJECTS).format(n=num)
                body = FR_BODY.format(name=cust[0])
            elif r < 0.60:
                subject = rng.choice(EN_SUBJECTS).format(n=num)
                body = W1252_BODY.format(name=cust[0], n=num)
            else:
                subject = rng.choice(EN_SUBJECTS).format(n=num)
                body = EN_BODY.format(name=cust[0])
            threads.append([cust, subject, [mid]])
            thread_headers = ""
            stats["new"] += 1
        # Some padding so bodies are not all the same size (0.3-2.5 KB).
        body += "\n" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " \
            * rng.randint(0, 35) + "\n"

        # Subjects: RFC 2047 in B or Q (utf-8 or iso-8859-1) when non-ASCII.
        subj_charset = "iso-8859-1" if rng.random() < 0.3 else "utf-8"
        try:
            subject.encode(subj_charset)
        except UnicodeEncodeError:
            subj_charset = "utf-8"
        head = (
            f"Return-Path: <{cust[1]}>\n"
            f"Delivered-To: {a.to}\n"
            f"Received: from mail.{a.domain} (mail.{a.domain} [192.0.2.{i % 250 + 1}])\n"
            f"\tby mx.support.test with ESMTPS id {i:08X}; {date}\n"
            f"From: {addr(cust[0], cust[1])}\n"
            f"To: Support <{a.to}>\n"
            f"Subject: {enc_header(subject, subj_charset)}\n"
            f"Date: {date}\n"
            f"Message-ID: {mid}\n"
            f"{thread_headers}"
            "MIME-Version: 1.0\n"
            "User-Agent: BenchMail/1.0\n"
        )
        if lang:
            head += f"Content-Language: {lang}\n"

        r = rng.random()
        if r < 0.03:
            html = "<html><body><p>" + body.replace("&", "&amp;").replace("<", "&lt;") \
                .replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p></body></html>\n"
            head += "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
            msg, codec = head + "\n" + html, "utf-8"
            stats["html"] += 1
        elif r < 0.13:
            boundary = f"=_bench_{i}_{rng.getrandbits(32):x}"
            th, payload, codec = text_part(rng, body)
            blob = rng.randbytes(rng.randint(2048, 6144))
            fname, ctype = rng.choice([
                ("screenshot.png", "image/png"), ("fatura março.pdf", "application/pdf"),
                ("log.txt.gz", "application/gzip"), ("facture_été.pdf", "application/pdf"),
            ])
            msg = (head + f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
                   "This is a multi-part message in MIME format.\n\n"
                   f"--{boundary}\n{th}\n{payload}\n"
                   f"--{boundary}\nContent-Type: {ctype}; name=\"{enc_header(fname)}\"\n"
                   "Content-Transfer-Encoding: base64\n"
                   f"Content-Disposition: attachment; filename=\"{enc_header(fname)}\"\n\n"
                   + base64.encodebytes(blob).decode("ascii")
                   + f"\n--{boundary}--\n")
            stats["attachments"] += 1
        else:
            th, payload, codec = text_part(rng, body)
            msg = head + th + "\n" + payload

        data = msg.encode(codec)
        name = f"{base + i}.M{i}P{pid}.bench"
        tmp = os.path.join(tmpdir, name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(newdir, f"{name},S={len(data)}"))
        stats["messages"] += 1
        stats["bytes"] += len(data)

    print(" ".join(f"{k}={v}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
