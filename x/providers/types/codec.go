package types

import (
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/legacy"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/msgservice"
)

// RegisterLegacyAminoCodec registers the messages for amino JSON signing (Ledger,
// CosmJS); names match the amino.name proto options.
func RegisterLegacyAminoCodec(cdc *codec.LegacyAmino) {
	legacy.RegisterAminoMsg(cdc, &MsgApplyProvider{}, "healthd/providers/MsgApplyProvider")
	legacy.RegisterAminoMsg(cdc, &MsgApproveProvider{}, "healthd/providers/MsgApproveProvider")
	legacy.RegisterAminoMsg(cdc, &MsgSetProviderStatus{}, "healthd/providers/MsgSetProviderStatus")
	legacy.RegisterAminoMsg(cdc, &MsgUpdateProvider{}, "healthd/providers/MsgUpdateProvider")
	legacy.RegisterAminoMsg(cdc, &MsgUpdateParams{}, "healthd/providers/MsgUpdateParams")
	cdc.RegisterConcrete(&Params{}, "healthd/providers/Params", nil)
}

// RegisterInterfaces registers the messages with the interface registry.
func RegisterInterfaces(registry codectypes.InterfaceRegistry) {
	registry.RegisterImplementations((*sdk.Msg)(nil),
		&MsgApplyProvider{},
		&MsgApproveProvider{},
		&MsgSetProviderStatus{},
		&MsgUpdateProvider{},
		&MsgUpdateParams{},
	)
	msgservice.RegisterMsgServiceDesc(registry, &_Msg_serviceDesc)
}
