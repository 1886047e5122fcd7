"""The sandbox provider's names, written once."""

NAME = "sandbox"
# Saved-card tokens the sandbox page gives, by the test card chosen there: how the card behaves when the
# bot charges it later with no customer there.
CARD_TOKEN = "sbx_card_"
THREE_DS_CARD = "sbx_card_3ds_"
DECLINED_CARD = "sbx_card_declined_"
