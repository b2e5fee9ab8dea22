"""The words lakectl knows sales exports by, in Portuguese, English, Spanish and German.

Header labels and status labels are matched by *stems*: a token matches a stem when it equals it,
or (stems of 4+ letters) starts with it, or (stems of 5+ letters, tokens of 8+) contains it, which
catches German compounds (``Bestellnummer``, ``Bruttobetrag``). Labels are folded first (accents,
case, punctuation; see ``recognise.tokens``). Pure data.
"""

from __future__ import annotations


def _stems(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that carry no meaning in a header (prepositions and articles of the four languages).
STOP_WORDS = _stems(
    "da de do das dos di du del la el los las le les lo of the a o an der die den dem des vom von zum zur "
    "em na nas nos in im am an para pra por per pro para y and und et to at on for je"
)
# Abbreviations -> the word they stand for (only where the stem tables need it).
ABBREVIATIONS = {
    "cd": "codigo", "cod": "codigo", "cods": "codigo", "nro": "numero", "nr": "numero", "no": "numero",
    "n": "numero", "num": "numero", "qtd": "quantidade", "qtde": "quantidade", "qt": "quantidade",
    "qty": "quantity", "vlr": "valor", "vl": "valor", "val": "valor", "amt": "amount", "dt": "data",
    "tel": "telefone", "fone": "telefone", "cel": "celular", "tlf": "telefono", "tfno": "telefono",
    "prod": "produto", "prd": "produto", "cli": "cliente", "cust": "customer", "txn": "transaction",
    "trx": "transaction", "tx": "transaction", "trans": "transacao", "pgto": "pagamento", "pgt": "pagamento",
    "pag": "pagamento", "pmt": "payment", "pay": "payment", "parc": "parcelas", "liq": "liquido",
    "brt": "bruto", "ped": "pedido", "sit": "situacao", "stat": "status", "doc": "documento",
    "ref": "referencia", "wpp": "whatsapp", "zap": "whatsapp", "whats": "whatsapp", "wa": "whatsapp",
    "plat": "plataforma", "comm": "commission", "fecha": "fecha", "ust": "steuer", "mwst": "steuer",
    "tel.": "telefone", "mob": "mobile", "ord": "order", "inv": "invoice", "desc": "desconto",
}  # fmt: skip

# Concepts: a set of stems each. A header is the set of concepts its tokens hit.
CONCEPTS: dict[str, frozenset[str]] = {
    "ID": _stems(
        "id ids codigo code codice identificador identifier ident numero number nummer referencia "
        "reference referenz key chave clave hash uuid protocolo protocol sku ean gtin"
    ),
    "SALE": _stems(
        "venda vendas sale sales order orders pedido ordem compra compras purchase transacao "
        "transaction transaccion transaktion bestell auftrag kauf fatura factura invoice rechnung "
        "receipt recibo beleg quittung operacao operacion bestellung"
    ),
    "STATUS": _stems("status situacao estado state zustand estatus stato"),
    "PRODUCT": _stems(
        "produto produtos product products producto produkt item itens artigo articulo artikel "
        "oferta offer angebot curso course kurs plano plan infoproduto conteudo content contenido inhalt"
    ),
    "NAME": _stems("nome name nombre"),
    # what is sold, described: "Descrição", "Título", "Bezeichnung" (a product's, never a buyer's)
    "DESCRIPTION": _stems("titel title titulo descricao description descripcion bezeichnung"),
    "AMOUNT": _stems(
        "valor valores value amount monto importe betrag preco price precio preis total summe "
        "soma quantia montante faturamento revenue receita umsatz cobrado charged ingreso "
        "ingresos ticket"
    ),
    "GROSS": _stems("bruto bruta gross brutto cheio full"),
    # the sale a refund row undoes ("Transação original", "Pedido de origem", "Parent order")
    "ORIGINAL": _stems(
        "original originais origem origin originating parent ursprung ursprunglich urspruenglich "
        "relacionada related vinculada linked asociada bezug"
    ),
    "NET": _stems(
        "liquido liquida net netto neto recebido received repasse payout auszahlung earnings "
        "ganho ganhos ganancia receb parte share anteil"
    ),
    "COMMISSION": _stems("comissao comissoes commission comision provision provisao"),
    "FEE": _stems(
        "taxa taxas fee fees tax taxes imposto impostos impuesto impuestos steuer steuern gebuhr "
        "gebuehr tarifa iva vat"
    ),
    "INTEREST": _stems("juros interest interes zinsen acrescimo"),
    "PAID": _stems("pago paga pagado paid bezahlt cobrada"),
    "WITH": _stems("com with con mit incl inklusive incluindo including"),
    "WITHOUT": _stems("sem without sin ohne excl exklusive"),
    "CURRENCY": _stems("moeda currency moneda wahrung waehrung divisa"),
    "DATE": _stems(
        "data date fecha datum dia day tag dt quando when hora time zeit horario timestamp momento datetime"
    ),
    "CREATED": _stems(
        "criacao criad created creacion cread erstell erstellt emissao pedido compra bought comprou comprad "
        "compro gekauft gerad generad placed "
        "purchase venda sale transacao transaction order bestell kauf"
    ),
    "APPROVED": _stems(
        "aprovacao aprovado aprovada approval approved aprobacion aprobado confirmacao "
        "confirmado confirmation confirmed pagamento payment pago paga pagad paid zahlung bezahl "
        "liquidacao compensacao freigabe finaliz finish conclu complet"
    ),
    "EXPIRY": _stems("vencimento expiracao expiry expiration vencimiento ablauf faellig due validade"),
    "REFUND": _stems("reembolso refund devolucao devolucion erstattung estorno cancelamento cancel storno"),
    "UPDATE": _stems("atualizacao update updated modificacao modified aktualisiert actualizacion"),
    "BIRTH": _stems("nascimento birth nacimiento geburt"),
    "METHOD": _stems(
        "forma metodo method meio medio methode art tipo type modo mode zahlungsart zahlungsmethode zahlweise"
    ),
    "PAYMENT": _stems("pagamento payment pago pagos zahlung zahlungs pay"),
    "INSTALL": _stems(
        "parcela parcelas parcelamento installment installments cuota cuotas raten rate "
        "prestacao prestacoes vezes"
    ),
    "QTY": _stems("quantidade quantity cantidad anzahl menge"),
    "CUSTOMER": _stems(
        "cliente clientes customer client comprador compradora buyer kunde kaeufer kaufer "
        "aluno aluna student consumidor usuario user assinante subscriber participante participant "
        "teilnehmer"
    ),
    "EMAIL": _stems("email mail correo correio"),
    "PHONE": _stems("telefone phone telefono celular mobile movil whatsapp handy telefon contato"),
    "DOC": _stems("cpf cnpj documento document dni cuit rut nif taxnumber steuernummer rfc cpfcnpj"),
    "PLATFORM": _stems("plataforma platform plattform marketplace canal"),
    "FIRST": _stems("primeiro first vorname nombre_pila given"),
    "LAST": _stems("sobrenome ultimo last surname apellido nachname family"),
    # the order a payment or refund belongs to: between equal ids, the sale's key
    "ORDER": _stems("pedido pedidos order orders orden ordenes bestell bestellung auftrag encomenda"),
    # an affiliate's or partner's share is a commission, never the seller's net
    "AFFILIATE": _stems("afiliado afiliada afiliados affiliate affiliates partner parceiro parceira socio"),
    "TYPE": _stems("tipo type typ art kind evento event"),
    "PARTY": _stems(
        "afiliado afiliada affiliate coprodutor coprodutora coproducer produtor produtora producer "
        "vendor parceiro partner"
    ),
    "DISCOUNT": _stems(
        "desconto discount descuento rabatt cupom coupon cupon gutschein frete shipping envio versand"
    ),
    "CONVERSION": _stems("conversao conversion umrechnung cambio"),
    "RECEIVE": _stems("recebimento receiving"),
    "PCT": _stems("pct percent percentual porcentagem porcentaje prozent"),
    # the seller's own share ("Meu faturamento", "Your revenue"): net of fees, never the gross
    "OWN": _stems("meu minha meus minhas my your mein meine seu sua"),
    "PLACE": _stems(
        "cidade city ciudad stadt provincia pais country land cep zip postal endereco address "
        "direccion adresse bairro uf"
    ),
}

# Status vocabulary: canonical status -> stems, in order of precedence (a label hitting several takes
# the first: "Aguardando reembolso" is refund_pending, "Pagamento recusado" is refused).
_STATUS_WORDS = {
    "refund_pending": "protest reclam claim",  # the buyer claims a refund (Hotmart PROTESTED)
    "test": "test teste testing prueba sandbox",
    "duplicated": "duplic dupliz",
    "chargeback": "chargeback chargebacks chargedback cgbk contest disput contracargo ruckbuchung rueckbuchung "
    "ruckbelastung rueckbelastung",
    "refund": "reembols refund rfnd estorn devolv devoluc devuelt return revers ruckerstatt rueckerstatt erstatt "
    "reintegr reemb ruckzahl rueckzahl",
    "blocked": "bloque block gesperrt sperr retid retain review revis analis analys pruf pruef hold suspen congel frozen "
    "verific",
    "cancelled": "cancel storn anulad annul abgebrochen void abandon inativ inactiv inaktiv desist aufgegeb",
    "expired": "expir vencid venceu caduc abgelaufen verfallen",
    "refused": "recus refus declin deni negad rechaz denegad abgelehnt ablehn fail falh fallid fehlgeschlagen reprov "
    "rejeit reject insf fund frustr",
    "pending": "pend aguard await wait esper process proces abert abiert open offen gerad impress recupera ausstehend "
    "warte autoriz authoriz unpaid bearbeit billet printed start atras overdue pastdue inadimpl generad emitid receber falta",
    "approved": "aprov approv aprob pago paga pagad paid complet conclu finaliz finish confirm bezahlt abgeschlossen "
    "erfolg success succeed sucesso exito genehmigt realizad settled liquidad captur ok sale bill emdia "
    "liberad quitad faturad ativa ativo active aktiv renov renew rebill "
    # an event list's "Zahlung" / "Payment" / "Purchase" row is the sale itself; "Recebido": money in
    "zahlung payment pagamento purchas compra kauf verkauf venda venta recebid received recibid erhalten",
}
STATUS_STEMS = tuple((status, _stems(words)) for status, words in _STATUS_WORDS.items())
# With a refund word, these make it a refund that is not done yet.
REFUND_PENDING_STEMS = _stems("pend solicit request aguard await wait esper beantragt ausstehend processing "
                              "processand processament procesando procesamiento being abert open andament progress curso tramit bearbeit analis analys review revis pedid")  # fmt: skip
NEGATION = _stems("nao not no nicht kein keine sin sem un")
# With a negation, these make it not yet done rather than refused ("Ainda não pagou", "Not yet paid").
NOT_YET = _stems("ainda yet noch todavia aun")

# Names of the platforms lakectl knows, as they appear in sheet names, columns and file names.
PLATFORM_NAMES = {
    "hotmart": ("hotmart",),
    "kiwify": ("kiwify",),
    "eduzz": ("eduzz",),
    "monetizze": ("monetizze", "monetize"),
    "braip": ("braip",),
    "clickbank": ("clickbank", "click bank", "cbank"),
    "digistore24": ("digistore24", "digistore", "ds24", "digistore 24"),
}
# Header tokens only one platform's exports use (besides the platform's own name).
PLATFORM_MARKERS = {
    "hotmart": _stems("sck coprodutor coprodutora src"),
    "eduzz": _stems("fatura faturas"),
    "clickbank": _stems("receipt tid vendor"),
    "digistore24": _stems("brutto netto"),
}
# Sheets that summarise rather than list sales.
SUMMARY_WORDS = _stems("resumo summary sumario resumen zusammenfassung ubersicht uebersicht totais totals "
                       "total totales dashboard painel consolidado overview kpi kpis indicadores grafico charts")  # fmt: skip
AGGREGATE_WORDS = _stems("total totais totals soma sum summe media average mean quantidade qtd count anzahl "
                         "vendas sales receita revenue faturamento umsatz ticket")  # fmt: skip
